# Exercises with checkable answers (docs/exercises/README.md): host programs
# against the real ring code and the device model, no QEMU.
#   make exercise N=barrier            checks docs/exercises/barrier.c: PASS or FAIL
#   make exercise N=barrier EX_DIR=docs/exercises/solutions
# `make unit-test` (so `make test`) runs exercise-check: every solution
# passes and every unsolved skeleton fails.
EX_DIR ?= docs/exercises
.PHONY: exercise exercise-check
EX_ENV = HOST_CC='$(HOST_CC)' CFLAGS='$(UNIT_CFLAGS)' LWIP_SRCS='$(filter-out %/lwiperf.c,$(LWIP_SRCS))'
exercise:
	$(Q)$(EX_ENV) sh tests/exercises/run.sh '$(N)' '$(EX_DIR)'
exercise-check:
	$(Q)$(EX_ENV) sh tests/exercises/run.sh --check-all
unit-test: exercise-check
