"""Finding, checking and declaring the pathint shared library (ctypes).

Search order: an explicit path given to :func:`load_library`, the environment
variable ``PATHINT_LIBRARY``, a ``libpathint.so*`` next to this package, then the
system's library search path. A library whose major version differs from the
one this package was written for is refused, and so is a library that lacks any
function of the table below (the package and the library must match exactly).

Every C function is declared here with ``argtypes``/``restype``; functions that
return a status get an ``errcheck`` raising the matching :class:`PathintError`
with ``pi_last_error()``.
"""

import ctypes
import ctypes.util
import glob
import os
import threading

import numpy as np

from .errors import InvalidArgumentError, LibraryNotFoundError, error_for_status

#: The PI_VERSION_MAJOR of include/pathint.h this package speaks (a test keeps them equal).
ABI_MAJOR = 1

# ---- opaque handles: one POINTER type per handle -------------------------------------------
class _SDE(ctypes.Structure):
    pass


class _Model(ctypes.Structure):
    pass


class _Sampler(ctypes.Structure):
    pass


class _Likelihood(ctypes.Structure):
    pass


class _Trainer(ctypes.Structure):
    pass


SDEPtr = ctypes.POINTER(_SDE)
ModelPtr = ctypes.POINTER(_Model)
SamplerPtr = ctypes.POINTER(_Sampler)
LikelihoodPtr = ctypes.POINTER(_Likelihood)
TrainerPtr = ctypes.POINTER(_Trainer)

# ---- callback types ------------------------------------------------------------------------
c_double_p = ctypes.POINTER(ctypes.c_double)
c_float_p = ctypes.POINTER(ctypes.c_float)
SDEMarginalFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_double, c_double_p, c_double_p, c_double_p,
                                 c_double_p, ctypes.c_void_p)
SDECoefficientFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_double, c_double_p, c_double_p, ctypes.c_void_p)
ModelFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, c_float_p, c_double_p, c_float_p,
                           ctypes.c_void_p)
# issue 15: conditional host models (labels, cond, row_data per row)
CondModelFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, c_float_p, c_double_p,
                               ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t, c_float_p,
                               ctypes.POINTER(ctypes.c_void_p), c_float_p, ctypes.c_void_p)
StepFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_double, ctypes.c_size_t,
                          ctypes.c_size_t, c_float_p, c_float_p, ctypes.c_void_p)
LikelihoodFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p)
ModelDerivativeFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, c_double_p,
                                     c_double_p, c_double_p, c_double_p, c_double_p, c_double_p,
                                     ctypes.c_void_p)
TrainFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_double, ctypes.c_double, ctypes.c_double,
                           ctypes.c_void_p)

# ---- argument types ------------------------------------------------------------------------
F32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
F64 = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
NULLABLE = ctypes.c_void_p  # an optional array: pass array.ctypes.data or None
c_int, c_uint, c_size, c_u64, c_double, c_char_p = (ctypes.c_int, ctypes.c_uint, ctypes.c_size_t,
                                                    ctypes.c_uint64, ctypes.c_double, ctypes.c_char_p)
c_enum = ctypes.c_int  # every pathint enum is passed as an int
P = ctypes.POINTER
STATUS = "status"  # restype marker: c_int checked by errcheck

# name: (restype, argtypes), in the order of include/pathint.h. pi_status functions are marked
# STATUS. tests/python/test_header.py compares this table with the header's declarations.
SIGNATURES = {
    # status, errors, version
    "pi_status_string": (c_char_p, [c_int]),
    "pi_last_error": (c_char_p, []),
    "pi_free": (None, [ctypes.c_void_p]),
    "pi_version_number": (c_uint, []),
    "pi_version_string": (c_char_p, []),
    # sde
    "pi_sde_create": (STATUS, [c_enum, P(SDEPtr)]),
    "pi_sde_create_custom": (STATUS, [c_double, c_double, SDEMarginalFn, SDECoefficientFn, ctypes.c_void_p,
                                      P(SDEPtr)]),
    "pi_sde_create_preset": (STATUS, [c_enum, P(SDEPtr)]),
    "pi_sde_create_named": (STATUS, [c_char_p, P(SDEPtr)]),
    "pi_sde_name_at": (STATUS, [c_size, P(c_char_p), P(c_char_p)]),
    "pi_sde_destroy": (None, [SDEPtr]),
    "pi_sde_clone": (STATUS, [SDEPtr, P(SDEPtr)]),
    "pi_sde_get_kind": (STATUS, [SDEPtr, P(c_enum)]),
    "pi_sde_set_param": (STATUS, [SDEPtr, c_enum, c_double]),
    "pi_sde_get_param": (STATUS, [SDEPtr, c_enum, P(c_double)]),
    "pi_sde_time_range": (STATUS, [SDEPtr, P(c_double), P(c_double)]),
    "pi_sde_marginal": (STATUS, [SDEPtr, c_double, P(c_double), P(c_double)]),
    "pi_sde_coefficients": (STATUS, [SDEPtr, c_double, P(c_double), P(c_double)]),
    "pi_sde_sigma_tilde": (STATUS, [SDEPtr, c_double, P(c_double), P(c_double)]),
    "pi_sde_time_from_sigma_tilde": (STATUS, [SDEPtr, c_double, P(c_double)]),
    "pi_sde_prior_std": (STATUS, [SDEPtr, P(c_double)]),
    "pi_sde_prior_sample": (STATUS, [SDEPtr, c_size, c_size, c_u64, F32]),
    "pi_sde_prior_logpdf": (STATUS, [SDEPtr, c_size, c_size, F32, F64]),
    # model
    "pi_model_create_gmm": (STATUS, [SDEPtr, c_size, c_size, F64, F64, F64, P(ModelPtr)]),
    "pi_model_create_empirical": (STATUS, [SDEPtr, c_size, c_size, F32, P(ModelPtr)]),
    "pi_model_create_mlp": (STATUS, [SDEPtr, c_size, c_size, c_size, P(ModelPtr)]),
    "pi_model_mlp_init": (STATUS, [ModelPtr, c_u64]),
    "pi_model_mlp_set_output_view": (STATUS, [ModelPtr, c_enum]),
    "pi_model_mlp_set_embedding": (STATUS, [ModelPtr, c_enum, c_size]),
    "pi_model_mlp_set_preconditioning": (STATUS, [ModelPtr, c_enum, c_double]),
    "pi_model_mlp_get_preconditioning": (STATUS, [ModelPtr, P(c_enum), P(c_double)]),
    "pi_model_mlp_get_output_view": (STATUS, [ModelPtr, P(c_enum)]),
    "pi_model_mlp_get_embedding": (STATUS, [ModelPtr, P(c_enum), P(c_size)]),
    "pi_model_mlp_get_shape": (STATUS, [ModelPtr, P(c_size), P(c_size)]),
    "pi_model_create_callback": (STATUS, [SDEPtr, c_size, c_enum, ModelFn, ctypes.c_void_p, P(ModelPtr)]),
    "pi_model_destroy": (None, [ModelPtr]),
    "pi_model_get_kind": (STATUS, [ModelPtr, P(c_enum)]),
    "pi_model_get_dim": (STATUS, [ModelPtr, P(c_size)]),
    "pi_model_get_sde": (STATUS, [ModelPtr, P(SDEPtr)]),
    "pi_model_set_threads": (STATUS, [ModelPtr, c_int]),
    "pi_model_get_threads": (STATUS, [ModelPtr, P(c_int)]),
    "pi_model_eval": (STATUS, [ModelPtr, c_enum, c_size, F32, F64, F32]),
    "pi_model_eval_at": (STATUS, [ModelPtr, c_enum, c_size, F32, c_double, F32]),
    "pi_model_divergence": (STATUS, [ModelPtr, c_enum, c_size, c_u64, c_size, F32, F64, F64]),
    "pi_model_jvp": (STATUS, [ModelPtr, c_size, F32, F64, F32, F32]),
    "pi_model_logpdf": (STATUS, [ModelPtr, c_size, F32, F64, F64]),
    "pi_model_get_num_params": (STATUS, [ModelPtr, P(c_size)]),
    "pi_model_get_params": (STATUS, [ModelPtr, c_size, F32, P(c_size)]),
    "pi_model_set_params": (STATUS, [ModelPtr, c_size, F32]),
    "pi_model_save": (STATUS, [ModelPtr, c_char_p]),
    "pi_model_load": (STATUS, [c_char_p, P(ModelPtr)]),
    "pi_model_save_safetensors": (STATUS, [ModelPtr, c_char_p]),
    "pi_model_load_safetensors": (STATUS, [SDEPtr, c_char_p, P(ModelPtr)]),
    # sampler
    "pi_sampler_create": (STATUS, [ModelPtr, P(SamplerPtr)]),
    "pi_sampler_destroy": (None, [SamplerPtr]),
    "pi_sampler_get_model": (STATUS, [SamplerPtr, P(ModelPtr)]),
    "pi_sampler_set_hbar": (STATUS, [SamplerPtr, c_double]),
    "pi_sampler_get_hbar": (STATUS, [SamplerPtr, P(c_double)]),
    "pi_sampler_set_method": (STATUS, [SamplerPtr, c_enum]),
    "pi_sampler_get_method": (STATUS, [SamplerPtr, P(c_enum)]),
    "pi_sampler_set_steps": (STATUS, [SamplerPtr, c_size]),
    "pi_sampler_get_steps": (STATUS, [SamplerPtr, P(c_size)]),
    "pi_sampler_set_schedule": (STATUS, [SamplerPtr, c_enum, c_double]),
    "pi_sampler_get_schedule": (STATUS, [SamplerPtr, P(c_enum), P(c_double)]),
    "pi_sampler_set_times": (STATUS, [SamplerPtr, F64, c_size]),
    "pi_sampler_get_times": (STATUS, [SamplerPtr, c_size, NULLABLE, P(c_size)]),
    "pi_sampler_set_time_range": (STATUS, [SamplerPtr, c_double, c_double]),
    "pi_sampler_get_time_range": (STATUS, [SamplerPtr, P(c_double), P(c_double)]),
    "pi_sampler_set_seed": (STATUS, [SamplerPtr, c_u64]),
    "pi_sampler_get_seed": (STATUS, [SamplerPtr, P(c_u64)]),
    "pi_sampler_set_threads": (STATUS, [SamplerPtr, c_int]),
    "pi_sampler_get_threads": (STATUS, [SamplerPtr, P(c_int)]),
    "pi_sampler_set_denoise_final": (STATUS, [SamplerPtr, c_int]),
    "pi_sampler_get_denoise_final": (STATUS, [SamplerPtr, P(c_int)]),
    "pi_sampler_set_tolerances": (STATUS, [SamplerPtr, c_double, c_double]),
    "pi_sampler_get_tolerances": (STATUS, [SamplerPtr, P(c_double), P(c_double)]),
    "pi_sampler_set_corrector": (STATUS, [SamplerPtr, c_size, c_double]),
    "pi_sampler_get_corrector": (STATUS, [SamplerPtr, P(c_size), P(c_double)]),
    "pi_sampler_set_callback": (STATUS, [SamplerPtr, StepFn, ctypes.c_void_p]),
    "pi_sampler_get_callback": (STATUS, [SamplerPtr, P(StepFn), P(ctypes.c_void_p)]),
    "pi_sampler_cancel": (STATUS, [SamplerPtr]),
    "pi_sampler_set_trajectory": (STATUS, [SamplerPtr, c_int, c_size, NULLABLE, NULLABLE]),
    "pi_sampler_get_trajectory_settings": (STATUS, [SamplerPtr, P(c_int), P(c_size)]),
    "pi_sampler_get_trajectory": (STATUS, [SamplerPtr, P(c_float_p), P(c_float_p), P(c_size)]),
    "pi_sampler_get_stats": (STATUS, [SamplerPtr, P(c_size), P(c_size), P(c_size)]),
    "pi_sampler_run": (STATUS, [SamplerPtr, c_size, F32]),
    "pi_sampler_run_from": (STATUS, [SamplerPtr, c_double, c_size, F32]),
    "pi_sampler_gits": (STATUS, [SamplerPtr, c_size, c_size, c_size, F64]),
    # likelihood
    "pi_likelihood_create": (STATUS, [ModelPtr, P(LikelihoodPtr)]),
    "pi_likelihood_destroy": (None, [LikelihoodPtr]),
    "pi_likelihood_get_model": (STATUS, [LikelihoodPtr, P(ModelPtr)]),
    "pi_likelihood_set_divergence": (STATUS, [LikelihoodPtr, c_enum, c_size]),
    "pi_likelihood_get_divergence": (STATUS, [LikelihoodPtr, P(c_enum), P(c_size)]),
    "pi_likelihood_set_tolerances": (STATUS, [LikelihoodPtr, c_double, c_double]),
    "pi_likelihood_get_tolerances": (STATUS, [LikelihoodPtr, P(c_double), P(c_double)]),
    "pi_likelihood_set_wkb_algorithm": (STATUS, [LikelihoodPtr, c_enum]),
    "pi_likelihood_get_wkb_algorithm": (STATUS, [LikelihoodPtr, P(c_enum)]),
    "pi_likelihood_set_dequantization": (STATUS, [LikelihoodPtr, c_double]),
    "pi_likelihood_get_dequantization": (STATUS, [LikelihoodPtr, P(c_double)]),
    "pi_likelihood_set_seed": (STATUS, [LikelihoodPtr, c_u64]),
    "pi_likelihood_get_seed": (STATUS, [LikelihoodPtr, P(c_u64)]),
    "pi_likelihood_set_threads": (STATUS, [LikelihoodPtr, c_int]),
    "pi_likelihood_get_threads": (STATUS, [LikelihoodPtr, P(c_int)]),
    "pi_likelihood_set_callback": (STATUS, [LikelihoodPtr, LikelihoodFn, ctypes.c_void_p]),
    "pi_likelihood_get_callback": (STATUS, [LikelihoodPtr, P(LikelihoodFn), P(ctypes.c_void_p)]),
    "pi_likelihood_cancel": (STATUS, [LikelihoodPtr]),
    "pi_likelihood_nll": (STATUS, [LikelihoodPtr, c_size, F32, F64, NULLABLE]),
    "pi_likelihood_nll_hbar": (STATUS, [LikelihoodPtr, c_double, c_size, F32, F64]),
    "pi_likelihood_nll_ex": (STATUS, [LikelihoodPtr, c_size, F32, F64, NULLABLE, NULLABLE, NULLABLE]),
    "pi_likelihood_action_bound": (STATUS, [LikelihoodPtr, c_size, c_size, F32, P(c_double), P(c_double)]),
    "pi_bits_per_dim": (STATUS, [c_double, c_size, c_double, P(c_double)]),
    # trainer
    "pi_trainer_create": (STATUS, [ModelPtr, P(TrainerPtr)]),
    "pi_trainer_destroy": (None, [TrainerPtr]),
    "pi_trainer_set_learning_rate": (STATUS, [TrainerPtr, c_double]),
    "pi_trainer_get_learning_rate": (STATUS, [TrainerPtr, P(c_double)]),
    "pi_trainer_set_lr_schedule": (STATUS, [TrainerPtr, c_enum, c_u64, c_u64]),
    "pi_trainer_get_lr_schedule": (STATUS, [TrainerPtr, P(c_enum), P(c_u64), P(c_u64)]),
    "pi_trainer_set_batch_size": (STATUS, [TrainerPtr, c_size]),
    "pi_trainer_get_batch_size": (STATUS, [TrainerPtr, P(c_size)]),
    "pi_trainer_set_weighting": (STATUS, [TrainerPtr, c_enum]),
    "pi_trainer_get_weighting": (STATUS, [TrainerPtr, P(c_enum)]),
    "pi_trainer_set_time_sampling": (STATUS, [TrainerPtr, c_enum]),
    "pi_trainer_get_time_sampling": (STATUS, [TrainerPtr, P(c_enum)]),
    "pi_trainer_set_lognormal": (STATUS, [TrainerPtr, c_double, c_double]),
    "pi_trainer_get_lognormal": (STATUS, [TrainerPtr, P(c_double), P(c_double)]),
    "pi_trainer_set_adam": (STATUS, [TrainerPtr, c_double, c_double, c_double]),
    "pi_trainer_get_adam": (STATUS, [TrainerPtr, P(c_double), P(c_double), P(c_double)]),
    "pi_trainer_set_weight_decay": (STATUS, [TrainerPtr, c_double]),
    "pi_trainer_get_weight_decay": (STATUS, [TrainerPtr, P(c_double)]),
    "pi_trainer_set_grad_clip": (STATUS, [TrainerPtr, c_double]),
    "pi_trainer_get_grad_clip": (STATUS, [TrainerPtr, P(c_double)]),
    "pi_trainer_set_ema": (STATUS, [TrainerPtr, c_double]),
    "pi_trainer_get_ema": (STATUS, [TrainerPtr, P(c_double)]),
    "pi_trainer_set_seed": (STATUS, [TrainerPtr, c_u64]),
    "pi_trainer_get_seed": (STATUS, [TrainerPtr, P(c_u64)]),
    "pi_trainer_set_threads": (STATUS, [TrainerPtr, c_int]),
    "pi_trainer_get_threads": (STATUS, [TrainerPtr, P(c_int)]),
    "pi_trainer_set_callback": (STATUS, [TrainerPtr, TrainFn, ctypes.c_void_p]),
    "pi_trainer_get_callback": (STATUS, [TrainerPtr, P(TrainFn), P(ctypes.c_void_p)]),
    "pi_trainer_cancel": (STATUS, [TrainerPtr]),
    "pi_trainer_get_model": (STATUS, [TrainerPtr, P(ModelPtr)]),
    "pi_trainer_step": (STATUS, [TrainerPtr, c_size, F32, P(c_double)]),
    "pi_trainer_fit": (STATUS, [TrainerPtr, c_size, F32, c_u64]),
    "pi_trainer_loss": (STATUS, [TrainerPtr, c_size, c_size, F32, P(c_double)]),
    "pi_trainer_get_step": (STATUS, [TrainerPtr, P(c_u64)]),
    "pi_trainer_save": (STATUS, [TrainerPtr, c_char_p]),
    "pi_trainer_resume": (STATUS, [c_char_p, P(ModelPtr), P(TrainerPtr)]),
    # data
    "pi_data_generate": (STATUS, [c_enum, c_size, c_u64, F32]),
    "pi_data_load": (STATUS, [c_char_p, P(c_float_p), P(c_size), P(c_size)]),
    "pi_data_save": (STATUS, [c_char_p, c_size, c_size, F32]),
    # options
    "pi_option_info": (STATUS, [c_enum, P(c_char_p), P(c_double), P(c_double), P(c_double), P(c_uint)]),
    # issue 19: first row index
    "pi_sampler_set_first_row": (STATUS, [SamplerPtr, c_u64]),
    "pi_sampler_get_first_row": (STATUS, [SamplerPtr, P(c_u64)]),
    "pi_likelihood_set_first_row": (STATUS, [LikelihoodPtr, c_u64]),
    "pi_likelihood_get_first_row": (STATUS, [LikelihoodPtr, P(c_u64)]),
    # issue 14: discrete ᾱ tables, host timesteps, flow-matching shifts
    "pi_sde_create_discrete": (STATUS, [F64, c_size, P(SDEPtr)]),
    "pi_sde_create_beta_schedule": (STATUS, [c_enum, c_size, c_double, c_double, c_uint, P(SDEPtr)]),
    "pi_sde_get_alphas_cumprod": (STATUS, [SDEPtr, c_size, NULLABLE, P(c_size)]),
    "pi_sde_timestep_from_time": (STATUS, [SDEPtr, c_double, P(c_double)]),
    "pi_sde_time_from_timestep": (STATUS, [SDEPtr, c_double, P(c_double)]),
    "pi_sde_discrete_times": (STATUS, [SDEPtr, c_enum, c_size, c_size, c_size, F64, P(c_size)]),
    "pi_sde_shift_times": (STATUS, [SDEPtr, c_double, c_size, F64]),
    "pi_shift_from_sequence_length": (STATUS, [c_double, c_double, c_double, c_double, c_double, P(c_double)]),
    "pi_model_create_callback_timestep": (STATUS, [SDEPtr, c_size, c_enum, ModelFn, ctypes.c_void_p, P(ModelPtr)]),
    # issue 15: conditions, guidance, inpainting
    "pi_model_create_callback_cond": (STATUS, [SDEPtr, c_size, c_enum, c_size, c_size, c_int, CondModelFn,
                                               ctypes.c_void_p, P(ModelPtr)]),
    "pi_model_get_conditions": (STATUS, [ModelPtr, P(c_size), P(c_size), P(c_int)]),
    "pi_model_eval_cond": (STATUS, [ModelPtr, c_enum, c_size, F32, F64, NULLABLE, c_size, NULLABLE,
                                    P(ctypes.c_void_p), F32]),
    "pi_sampler_set_conditions": (STATUS, [SamplerPtr, c_size, NULLABLE, c_size, NULLABLE, P(ctypes.c_void_p)]),
    "pi_sampler_get_conditions": (STATUS, [SamplerPtr, P(c_size)]),
    "pi_sampler_set_guidance": (STATUS, [SamplerPtr, c_double]),
    "pi_sampler_get_guidance": (STATUS, [SamplerPtr, P(c_double)]),
    "pi_sampler_set_guidance_rescale": (STATUS, [SamplerPtr, c_double]),
    "pi_sampler_get_guidance_rescale": (STATUS, [SamplerPtr, P(c_double)]),
    "pi_sampler_set_guidance_interval": (STATUS, [SamplerPtr, c_double, c_double]),
    "pi_sampler_get_guidance_interval": (STATUS, [SamplerPtr, P(c_double), P(c_double)]),
    "pi_sampler_set_cfgpp": (STATUS, [SamplerPtr, c_int]),
    "pi_sampler_get_cfgpp": (STATUS, [SamplerPtr, P(c_int)]),
    "pi_sampler_set_inpainting": (STATUS, [SamplerPtr, c_size, NULLABLE, NULLABLE]),
    "pi_sampler_get_inpainting": (STATUS, [SamplerPtr, P(c_size)]),
    "pi_model_create_mlp_cond": (STATUS, [SDEPtr, c_size, c_size, c_size, c_size, c_size, P(ModelPtr)]),
    "pi_trainer_set_cond_dropout": (STATUS, [TrainerPtr, c_double]),
    "pi_trainer_get_cond_dropout": (STATUS, [TrainerPtr, P(c_double)]),
    "pi_trainer_fit_cond": (STATUS, [TrainerPtr, c_size, F32, NULLABLE, c_size, NULLABLE, c_u64]),
    # what this process runs (issue 17)
    "pi_blis_version": (c_char_p, []),
    "pi_blis_kernels": (c_char_p, []),
    "pi_blis_kernel_choice": (c_char_p, []),
    "pi_blis_threading": (c_char_p, []),
    "pi_cpu_feature_at": (STATUS, [c_size, P(c_char_p), P(c_int)]),
    "pi_cpu_count": (c_uint, []),
    # issue 16: time-keyed noise
    "pi_sampler_set_noise": (STATUS, [SamplerPtr, c_enum]),
    "pi_sampler_get_noise": (STATUS, [SamplerPtr, P(c_int)]),
    # issue 18: the stochastic WKB sweep
    "pi_likelihood_set_wkb_probes": (STATUS, [LikelihoodPtr, c_size]),
    "pi_likelihood_get_wkb_probes": (STATUS, [LikelihoodPtr, P(c_size)]),
    "pi_likelihood_nll_wkb": (STATUS, [LikelihoodPtr, c_size, F32, F64, F64, F64]),
    "pi_model_callback_set_derivatives": (STATUS, [ModelPtr, ModelDerivativeFn, ctypes.c_uint, ctypes.c_void_p]),
    "pi_model_callback_get_derivatives": (STATUS, [ModelPtr, P(ctypes.c_uint), P(ctypes.c_uint)]),
    # issue 18: the second WKB coefficient
    "pi_likelihood_nll_wkb2": (STATUS, [LikelihoodPtr, c_size, F32, F64, F64, F64]),
    # issue 18: the stochastic c2
    "pi_likelihood_nll_wkb2_ex": (STATUS, [LikelihoodPtr, c_size, F32, F64, F64, F64, F64, F64]),
}


class Library:
    """The loaded shared library with every function declared as an attribute."""

    def __init__(self, path):
        self.path = path
        try:
            self.cdll = ctypes.CDLL(path)
        except OSError as exc:
            raise LibraryNotFoundError(f"cannot load the pathint library '{path}': {exc}") from None
        missing = [name for name in SIGNATURES if not hasattr(self.cdll, name)]
        for needed in ("pi_version_number", "pi_version_string", "pi_last_error", "pi_status_string"):
            if needed in missing:
                raise LibraryNotFoundError(f"'{path}' is not a pathint library (it lacks {needed})")
        self.raw = {}  # the declared ctypes function objects, by name
        for name, (restype, argtypes) in SIGNATURES.items():
            if name in missing:
                continue
            fn = getattr(self.cdll, name)
            fn.argtypes = argtypes
            if restype == STATUS:
                fn.restype = ctypes.c_int
                fn.errcheck = self._check
            else:
                fn.restype = restype
            self.raw[name] = fn
            setattr(self, name, _argument_errors_as_invalid(fn, name))
        self.version_number = self.pi_version_number()
        self.version = self.pi_version_string().decode()
        major = self.version_number // 10000
        if major != ABI_MAJOR:
            raise LibraryNotFoundError(
                f"'{path}' is pathint {self.version} (major version {major}), but this Python package "
                f"needs major version {ABI_MAJOR}; use the matching library or package")
        if missing:
            raise LibraryNotFoundError(
                f"'{path}' (pathint {self.version}) lacks {len(missing)} function(s) this package needs: "
                + ", ".join(missing) + "; build the library from the same source tree as the package")

    def _check(self, status, func, args):
        if status != 0:
            detail = self.pi_last_error().decode("utf-8", "replace")
            generic = self.pi_status_string(status).decode()
            name = func.__name__
            if not detail:
                message = f"{name}: {generic}"
            else:
                message = detail if detail.startswith(name) else f"{name}: {detail}"
            raise error_for_status(status, message, function=func.__name__)
        return status


def _integer_range(ctype):
    """[lo, hi] of a ctypes integer type, or None for other types."""
    code = getattr(ctype, "_type_", None)
    if not isinstance(code, str) or len(code) != 1 or code not in "bBhHiIlLqQ":
        return None
    bits = 8 * ctypes.sizeof(ctype)
    if code.isupper():
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _check_arguments(name, argtypes, args):
    """ctypes truncates integers to the C type without a word (2**32 + 1 becomes 1 in an int,
    -1 becomes 2**64 - 1 in a size_t) and numpy casts complex values to real ones with only a
    warning: refuse both before the call."""
    for i, (ctype, value) in enumerate(zip(argtypes, args)):
        if isinstance(value, (complex, np.complexfloating)) or \
                (isinstance(value, np.ndarray) and np.iscomplexobj(value)):
            raise InvalidArgumentError(f"{name}: argument {i + 1} must be real, got a complex value",
                                       status=-1, function=name)
        bounds = _integer_range(ctype)
        if bounds is not None and isinstance(value, (int, np.integer)):
            if not bounds[0] <= int(value) <= bounds[1]:
                raise InvalidArgumentError(
                    f"{name}: argument {i + 1} ({value}) is outside the range of its C type "
                    f"{ctype.__name__} [{bounds[0]}, {bounds[1]}]", status=-1, function=name)


def _argument_errors_as_invalid(fn, name):
    """ctypes reports a bad argument (wrong dtype, a closed handle) as ArgumentError;
    report it as InvalidArgumentError, like the library's own argument checks. Integers that
    do not fit their C type and complex values are refused the same way (_check_arguments)."""
    argtypes = tuple(fn.argtypes or ())

    def call(*args):
        _check_arguments(name, argtypes, args)
        try:
            return fn(*args)
        except ctypes.ArgumentError as exc:
            raise InvalidArgumentError(f"{name}: {exc}", status=-1, function=name) from None
    call.__name__ = name
    call.__doc__ = f"{name}{tuple(getattr(t, '__name__', str(t)) for t in fn.argtypes)}"
    return call


_lock = threading.Lock()
_library = None


def _candidates():
    env = os.environ.get("PATHINT_LIBRARY")
    if env:
        yield env, True
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in ("libpathint.so", "libpathint.so.*", "libpathint.dylib", "pathint.dll"):
        for path in sorted(glob.glob(os.path.join(here, pattern))):
            yield path, True
    found = ctypes.util.find_library("pathint")
    if found:
        yield found, False
    yield "libpathint.so." + str(ABI_MAJOR), False


def load_library(path=None):
    """Load the library (once) and return it.

    With ``path``, load exactly that file (replacing a library loaded before; do
    this before creating objects). Otherwise use the search order described in
    this module's docstring.
    """
    global _library
    with _lock:
        if path is not None:
            _library = Library(os.fspath(path))
            return _library
        if _library is not None:
            return _library
        errors = []
        for candidate, explicit in _candidates():
            try:
                _library = Library(candidate)
                return _library
            except LibraryNotFoundError as exc:
                if explicit:
                    raise
                errors.append(str(exc))
        raise LibraryNotFoundError(
            "cannot find the pathint shared library; set PATHINT_LIBRARY to its path "
            "(e.g. build/lib/libpathint.so) or call pathint.load_library(path). Tried: " + "; ".join(errors))


def lib():
    """The loaded library (loading it on first use)."""
    return _library if _library is not None else load_library()
