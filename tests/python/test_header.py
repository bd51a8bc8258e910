"""The ctypes table and the Python enums against include/pathint.h, so that they cannot drift.

Every PI_API function of the header must be in pathint._library.SIGNATURES with the same
number of parameters, the same pointer-ness and a compatible element type for each, and the
same return type; every table entry must be in the header. Every enum of the header must
have a Python IntEnum with the same members and values.
"""
import ctypes
import os
import re

import numpy as np
import pytest

import pathint as pi
from pathint import _library as L

HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "include", "pathint.h")


def _header_text():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _declarations():
    """name -> (return type, [parameter type, ...]) of every PI_API function."""
    out = {}
    for m in re.finditer(r"PI_API\s+([^;(]*?)\b(pi_\w+)\s*\(([^)]*)\)\s*;", _header_text()):
        ret, name, params = " ".join(m.group(1).split()), m.group(2), " ".join(m.group(3).split())
        types = []
        if params != "void":
            for p in params.split(","):
                p = p.strip()
                # drop the parameter name: the last identifier, unless the type is all there is
                t = re.sub(r"\b\w+$", "", p).strip() if re.search(r"[\w*]\s+\**\w+$", p) else p
                types.append(" ".join(t.replace("*", " * ").split()))
        out[name] = (ret.replace("*", " *").strip(), types)
    return out


ENUM_TYPES = {"pi_sde_kind", "pi_sde_param", "pi_sde_preset", "pi_view", "pi_model_kind", "pi_divergence", "pi_embedding",
              "pi_precond", "pi_method", "pi_schedule", "pi_wkb_algorithm", "pi_weighting",
              "pi_time_sampling", "pi_lr_schedule", "pi_dataset", "pi_option",
              "pi_beta_schedule", "pi_timestep_spacing", "pi_noise", "pi_derivative"}
SCALARS = {"double": ctypes.c_double, "float": ctypes.c_float, "size_t": ctypes.c_size_t,
           "uint64_t": ctypes.c_uint64, "int": ctypes.c_int, "unsigned": ctypes.c_uint,
           "pi_status": ctypes.c_int, "char": ctypes.c_char, "void": None, "int32_t": ctypes.c_int32}
SCALARS.update({e: ctypes.c_int for e in ENUM_TYPES})
HANDLES = {"pi_sde_t": L.SDEPtr, "pi_model_t": L.ModelPtr, "pi_sampler_t": L.SamplerPtr,
           "pi_likelihood_t": L.LikelihoodPtr, "pi_trainer_t": L.TrainerPtr}
CALLBACKS = {"pi_sde_marginal_fn": L.SDEMarginalFn, "pi_sde_coefficient_fn": L.SDECoefficientFn,
             "pi_model_fn": L.ModelFn, "pi_step_fn": L.StepFn, "pi_likelihood_fn": L.LikelihoodFn,
             "pi_train_fn": L.TrainFn, "pi_model_cond_fn": L.CondModelFn,
             "pi_model_derivative_fn": L.ModelDerivativeFn}
NUMPY = {ctypes.c_double: np.float64, ctypes.c_float: np.float32, ctypes.c_size_t: np.uintp,
         ctypes.c_int: np.intc, ctypes.c_uint64: np.uint64}


def _same_scalar(a, b):
    """ctypes aliases (c_size_t is c_ulong) compare by size and signedness."""
    return a is b or (a is not None and b is not None and ctypes.sizeof(a) == ctypes.sizeof(b)
                      and a(-1).value == b(-1).value)


def _compatible(ctype, ptype):
    """Whether the ctypes argtype ``ptype`` passes the C type ``ctype`` ('const double *')."""
    words = [w for w in ctype.split() if w != "const"]
    stars = words.count("*")
    base = " ".join(w for w in words if w != "*")
    if stars == 0:
        if base in CALLBACKS:
            return ptype is CALLBACKS[base]
        return base in SCALARS and _same_scalar(SCALARS[base], ptype)
    if base in HANDLES and stars == 1:
        return ptype is HANDLES[base]
    if base in HANDLES and stars == 2:
        return ptype is ctypes.POINTER(HANDLES[base])
    if base == "char" and stars == 1:
        return ptype is ctypes.c_char_p
    if base == "char" and stars == 2:
        return ptype is ctypes.POINTER(ctypes.c_char_p)
    if base == "void" and stars == 1:
        return ptype is ctypes.c_void_p
    if base == "void" and stars == 2:
        return ptype is ctypes.POINTER(ctypes.c_void_p)
    if base in CALLBACKS and stars == 1:
        return ptype is ctypes.POINTER(CALLBACKS[base])
    if stars == 2:  # float ** and the like: a pointer to a typed pointer
        elem = SCALARS.get(base)
        inner = getattr(ptype, "_type_", None)
        return elem is not None and inner is not None and _same_scalar(getattr(inner, "_type_", None), elem)
    if stars == 1 and base in SCALARS:
        elem = SCALARS[base]
        if ptype is L.NULLABLE:  # an optional array, passed as an address or None
            return True
        if hasattr(ptype, "_dtype_"):  # numpy.ctypeslib.ndpointer
            return np.dtype(ptype._dtype_) == np.dtype(NUMPY[elem])
        inner = getattr(ptype, "_type_", None)
        return inner is not None and not isinstance(inner, str) and _same_scalar(inner, elem)
    return False


DECLS = _declarations()


def test_the_header_is_parsed():
    assert len(DECLS) > 100
    assert DECLS["pi_model_divergence"][1] == ["const pi_model_t *", "pi_divergence", "size_t", "uint64_t",
                                               "size_t", "const float *", "const double *", "double *"]


def test_table_and_header_list_the_same_functions():
    assert sorted(set(DECLS) - set(L.SIGNATURES)) == [], "declared in the header, missing in _library.py"
    assert sorted(set(L.SIGNATURES) - set(DECLS)) == [], "in _library.py, not in the header"


@pytest.mark.parametrize("name", sorted(DECLS))
def test_signature_matches_header(name):
    ret, params = DECLS[name]
    restype, argtypes = L.SIGNATURES[name]
    assert len(argtypes) == len(params), f"{name}: {len(params)} parameters in the header"
    for i, (ctype, ptype) in enumerate(zip(params, argtypes)):
        assert _compatible(ctype, ptype), f"{name} parameter {i}: header '{ctype}', table {ptype}"
    if ret == "pi_status":
        assert restype == L.STATUS
    elif ret == "void":
        assert restype is None
    else:
        assert _compatible(ret, restype), f"{name} returns '{ret}', table {restype}"


def test_loaded_functions_carry_the_table():
    lib = pi.load_library()
    for name, (restype, argtypes) in L.SIGNATURES.items():
        fn = lib.raw[name]
        assert fn.argtypes == argtypes
        assert fn.restype is (ctypes.c_int if restype == L.STATUS else restype)


def _header_enums():
    """C enum type name -> {constant: value}."""
    out = {}
    for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", _header_text(), re.S):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"\b(PI_\w+)\s*=\s*(-?\d+)", m.group(2))}
    return out


PY_ENUMS = {"pi_sde_kind": (pi.SDEKind, "PI_SDE_KIND_"), "pi_sde_param": (pi.SDEParam, "PI_SDE_PARAM_"),
            "pi_sde_preset": (pi.SDEPreset, "PI_SDE_PRESET_"),
            "pi_view": (pi.View, "PI_VIEW_"), "pi_model_kind": (pi.ModelKind, "PI_MODEL_KIND_"),
            "pi_divergence": (pi.Divergence, "PI_DIVERGENCE_"), "pi_embedding": (pi.Embedding, "PI_EMBEDDING_"),
            "pi_precond": (pi.Precond, "PI_PRECOND_"), "pi_method": (pi.Method, "PI_METHOD_"),
            "pi_schedule": (pi.Schedule, "PI_SCHEDULE_"),
            "pi_wkb_algorithm": (pi.WKBAlgorithm, "PI_WKB_ALGORITHM_"),
            "pi_weighting": (pi.Weighting, "PI_WEIGHTING_"), "pi_time_sampling": (pi.TimeSampling, "PI_TIME_SAMPLING_"),
            "pi_lr_schedule": (pi.LRSchedule, "PI_LR_SCHEDULE_"), "pi_dataset": (pi.Dataset, "PI_DATASET_"),
            "pi_option": (pi.Option, "PI_OPTION_"),
            "pi_beta_schedule": (pi.BetaSchedule, "PI_BETA_SCHEDULE_"),
            "pi_timestep_spacing": (pi.TimestepSpacing, "PI_TIMESTEP_SPACING_"),
            "pi_noise": (pi.Noise, "PI_NOISE_"),
            "pi_derivative": (pi.Derivative, "PI_DERIVATIVE_")}


def test_every_header_enum_has_a_python_enum():
    assert set(_header_enums()) == set(PY_ENUMS)


@pytest.mark.parametrize("cname", sorted(PY_ENUMS))
def test_enum_values_match_header(cname):
    cls, prefix = PY_ENUMS[cname]
    header = _header_enums()[cname]
    python = {prefix + m.name: m.value for m in cls}
    assert python == header
    assert min(header.values()) == 1  # every enum starts at 1


def test_option_flags_match_header():
    text = _header_text()
    for name in ("MIN_EXCLUSIVE", "MAX_EXCLUSIVE", "INTEGER", "EVEN"):
        value = int(re.search(r"#define PI_OPTION_%s (\d+)u" % name, text).group(1))
        assert getattr(pi.core, "OPTION_" + name) == value


def test_abi_major_matches_header():
    major = int(re.search(r"#define PI_VERSION_MAJOR (\d+)", _header_text()).group(1))
    assert pi.ABI_MAJOR == major
    assert pi.version_number() // 10000 == major
