/*
 * fault: named points at which the test suite makes previewd crash or
 * pause, to prove that every step survives a crash at its worst moment.
 *
 * PREVIEWD_FAULTS="point=action[,point=action...]", read once at start-up:
 *   kill        SIGKILL this process at the point;
 *   kill@N      SIGKILL it the N-th time the point is reached;
 *   wait:PATH   create PATH.reached, then wait until PATH exists (at most
 *               60 s), so a test can act while previewd stands there.
 * When the variable is unset a point costs one branch. Operators never
 * set it; it is documented for contributors in tests/README.md.
 */
#ifndef PREVIEWD_FAULT_H
#define PREVIEWD_FAULT_H

void fault_init(void);
void fault_point(const char *name);

#endif
