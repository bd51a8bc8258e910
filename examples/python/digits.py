"""digits.py: a class-conditional score model of handwritten digits, sampled with guidance.

The data are scikit-learn's copy of the UCI 8×8 digits (1 797 images, 10 classes, d = 64,
pixel values 0..16), read from the installed package (Debian python3-sklearn); nothing is
copied into the repository. The script

  1. splits the digits into 1 497 training and 300 held-out images (fixed permutation) and
     fits scikit-learn's LogisticRegression on the real training images (the judge);
  2. trains a class-conditional MLP (EDM preconditioning and weighting, log-normal times)
     with pathint's C trainer (condition dropout 0.1) on uniformly dequantised pixels scaled
     to [-1, 1]: x = 2 (v + u)/17 - 1, u ~ U(0, 1), 8 dequantised copies of each image;
  3. samples every class with classifier-free guidance w in {0, 1, 2, 4} at hbar in {0, 1}
     and reports the classifier's accuracy on 1 000 samples each (100 per class) and the
     sliced W2 distance to the held-out digits;
  4. computes NLL0 of the held-out digits in bits per dimension (dequantised: the likelihood
     adds u·b, b = 2/17, to the bin's lower edge 2 v/17 - 1; bits/dim with scale 1/b);
  5. inpaints held-out digits whose left half is masked and reports the classifier's accuracy
     on the filled images against their true labels;
  6. writes a 10×10 grid of samples (one row per class) and an inpainting figure.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \\
        python3 examples/python/digits.py [--steps 6000] [--out-dir .] [--quick]
"""
import argparse
import json
import os
import time

import numpy as np

import pathint as pi

LEVELS = 17  # pixel values 0..16


def load(seed=0, train=1497):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(x))
    return x[perm[:train]], y[perm[:train]], x[perm[train:]], y[perm[train:]]


def to_unit(v, u):
    """Pixel values (0..16) plus dequantisation offsets u in [0, 1) to [-1, 1]."""
    return (2.0 * (v + u) / LEVELS - 1.0).astype(np.float32)


def to_pixels(x):
    """[-1, 1] back to pixel values: the centre of the bin, clipped to 0..16."""
    return np.clip((np.asarray(x, np.float64) + 1.0) / 2.0 * LEVELS - 0.5, 0.0, LEVELS - 1.0)


def classifier(x_train, y_train):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000).fit(x_train, y_train)


def sliced_w2(a, b, directions=256, seed=0):
    """Sliced 2-Wasserstein distance between two equal-size point sets (random unit directions)."""
    n = min(len(a), len(b))
    rng = np.random.default_rng(seed)
    a = a[rng.permutation(len(a))[:n]]
    b = b[rng.permutation(len(b))[:n]]
    v = rng.standard_normal((a.shape[1], directions))
    v /= np.linalg.norm(v, axis=0)
    pa, pb = np.sort(a @ v, axis=0), np.sort(b @ v, axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))


def train_model(x_train, y_train, steps, width=256, layers=3, seed=0, copies=8, threads=1,
                quiet=False):
    """The class-conditional MLP, trained by pathint's C trainer on `copies` dequantised copies
    of every training image. Returns (model, seconds)."""
    rng = np.random.default_rng(seed + 1)
    v = np.repeat(x_train, copies, axis=0)
    labels = np.repeat(y_train, copies)
    data = to_unit(v, rng.random(v.shape))
    sde = pi.SDE("vp")
    # EDM preconditioning (sigma_data 0.5) keeps the network's input at unit scale: without it
    # a VP model sees x/alpha ~ 150 x near T and does not learn these images (docs/training.md).
    model = pi.Model.mlp(sde, 64, width=width, layers=layers, seed=seed, classes=10,
                         preconditioning=("edm", 0.5))
    trainer = pi.Trainer(model, lr=2e-3, batch=256, weighting="edm", time_sampling="lognormal",
                         lr_schedule="cosine",
                         warmup=min(100, steps // 10), total_steps=steps, ema=0.999, seed=seed,
                         threads=threads, cond_dropout=0.1)
    t0 = time.time()
    trainer.fit(data, steps, labels=labels)
    seconds = time.time() - t0
    if not quiet:
        print(f"trained {steps} steps (batch 256, {threads} thread(s)) in {seconds:.1f} s")
    return model, seconds


def sample_classes(model, per_class, w, hbar, steps=50, seed=2, threads=1):
    labels = np.repeat(np.arange(10), per_class)
    sampler = pi.Sampler(model, steps=steps, hbar=hbar, seed=seed, guidance=w, threads=threads)
    return sampler.sample(len(labels), labels=labels), labels


def inpaint_left_half(model, x_held, w=1.0, labels=None, steps=50, hbar=1.0, seed=3, threads=1):
    """Fill the left half (columns 0..3) of held-out digits from their right half."""
    n = len(x_held)
    known = to_unit(x_held, 0.5)  # bin centres
    mask = np.ones((n, 8, 8), np.float32)
    mask[:, :, :4] = 0.0
    mask = mask.reshape(n, 64)
    sampler = pi.Sampler(model, steps=steps, hbar=hbar, method="exp1", seed=seed, threads=threads,
                         guidance=w)
    sampler.set_inpainting(known, mask)
    return sampler.sample(n, labels=labels), mask


def grid_png(images, path, rows, cols, scale=4):
    """A rows × cols grid of 8×8 images (values 0..16), each upscaled `scale` times."""
    from PIL import Image

    img = np.ones((rows * 9 + 1, cols * 9 + 1)) * 16.0
    for i in range(rows):
        for j in range(cols):
            img[1 + 9 * i:9 + 9 * i, 1 + 9 * j:9 + 9 * j] = images[i * cols + j].reshape(8, 8)
    pix = (255 - img / 16.0 * 255).clip(0, 255).astype(np.uint8)
    Image.fromarray(pix).resize((pix.shape[1] * scale, pix.shape[0] * scale), Image.NEAREST).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--nll-points", type=int, default=50)
    ap.add_argument("--out-dir", default=".")
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute), for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.width, args.layers, args.nll_points = 1500, 128, 2, 20
    per_class = 10 if args.quick else 100

    x_tr, y_tr, x_te, y_te = load()
    clf = classifier(x_tr, y_tr)
    report = {"classifier_accuracy_real_held_out": float(clf.score(x_te, y_te)),
              "train_images": len(x_tr), "held_out_images": len(x_te)}
    print(f"classifier on real held-out digits: {report['classifier_accuracy_real_held_out']:.3f}")
    model, seconds = train_model(x_tr, y_tr, args.steps, args.width, args.layers,
                                 threads=args.threads)
    report["training"] = {"steps": args.steps, "seconds": round(seconds, 1), "threads": args.threads,
                          "batch": 256, "width": args.width, "layers": args.layers}

    held = to_unit(x_te, 0.5)
    report["sliced_w2_train_vs_held_out"] = sliced_w2(to_unit(x_tr, 0.5), held)
    table = []
    for hbar in (0.0, 1.0):
        for w in (0.0, 1.0, 2.0, 4.0):
            t0 = time.time()
            x, labels = sample_classes(model, per_class, w, hbar, threads=args.threads)
            acc = float(np.mean(clf.predict(to_pixels(x)) == labels))
            sw2 = sliced_w2(x, held)
            table.append({"hbar": hbar, "w": w, "accuracy": acc, "sliced_w2": sw2,
                          "seconds": round(time.time() - t0, 1)})
            print(f"hbar {hbar:g}  w {w:g}: accuracy {acc:.3f}, sliced W2 {sw2:.3f}")
            if hbar == 1.0 and w == 2.0:
                grid = to_pixels(sample_classes(model, 10, w, hbar, seed=7, threads=args.threads)[0])
                grid_png(grid, os.path.join(args.out_dir, "digits_samples.png"), 10, 10)
    report["table"] = table

    lik = pi.Likelihood(model, dequantization=2.0 / LEVELS, seed=0, threads=args.threads)
    edges = (2.0 * x_te[:args.nll_points] / LEVELS - 1.0).astype(np.float32)  # lower bin edges
    t0 = time.time()
    nll, _ = lik.nll(edges, c1=False)
    bpd = float(np.mean([pi.bits_per_dim(v, 64, LEVELS / 2.0) for v in nll]))
    report["nll0_bits_per_dim"] = bpd
    report["nll_points"] = int(args.nll_points)
    print(f"NLL0 of {args.nll_points} held-out digits: {bpd:.3f} bits/dim ({time.time() - t0:.0f} s)")

    for w, with_labels in ((1.0, False), (2.0, True)):
        filled, mask = inpaint_left_half(model, x_te, w=w, labels=y_te if with_labels else None,
                                         threads=args.threads)
        acc = float(np.mean(clf.predict(to_pixels(filled)) == y_te))
        key = "inpainting_accuracy_unconditional" if not with_labels else "inpainting_accuracy_labels_w2"
        report[key] = acc
        print(f"inpainting (left half masked, {'true labels, w = 2' if with_labels else 'no labels'}): "
              f"accuracy {acc:.3f}")
        if not with_labels:
            shown = np.concatenate([x_te[:10], to_pixels(known_only(x_te[:10], mask[:10])),
                                    to_pixels(filled[:10])])
            grid_png(shown, os.path.join(args.out_dir, "digits_inpainting.png"), 3, 10)
    masked_acc = float(np.mean(clf.predict(x_te * mask.reshape(-1, 64)) == y_te))
    report["classifier_accuracy_left_half_zeroed"] = masked_acc
    print(f"(classifier on the held-out digits with the left half zeroed: {masked_acc:.3f})")
    with open(os.path.join(args.out_dir, "digits_report.json"), "w") as f:
        json.dump(report, f, indent=1)


def known_only(x, mask):
    """The visible part in [-1, 1] (masked pixels shown as 0 = white)."""
    return np.where(mask > 0, to_unit(x, 0.5), -1.0 + 1.0 / LEVELS)


if __name__ == "__main__":
    main()
