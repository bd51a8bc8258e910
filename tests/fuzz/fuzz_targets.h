/* Fuzz entry points shared by the libFuzzer harnesses (fuzz_*.c) and the regression suite
 * (tests/test_fuzz_regressions.c, which replays every corpus file through them). Each returns
 * 0; a bug shows up as a crash, a sanitizer report, a leak or a failed internal check. */
#ifndef PI_FUZZ_TARGETS_H
#define PI_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

int pi_fuzz_model_load(const uint8_t *data, size_t size);
int pi_fuzz_safetensors(const uint8_t *data, size_t size);
int pi_fuzz_data_csv(const uint8_t *data, size_t size);
int pi_fuzz_data_npy(const uint8_t *data, size_t size);
int pi_fuzz_setters(const uint8_t *data, size_t size);

#endif
