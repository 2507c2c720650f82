/* it_reliability.h - integration tests of TLS and authentication, the
 * detector state file and hot model reload (it_reliability.c). */
#ifndef IOTAD_IT_RELIABILITY_H
#define IOTAD_IT_RELIABILITY_H

/* TLS with a test CA and a password file: good credentials connect and
 * alert; a wrong CA or password is refused with a clear message. */
void it_tls_auth(void);
/* An open alert survives an orderly restart through the state file: no
 * second raise, cleared with the next seq; a damaged file is refused. */
void it_state_restart(void);
/* SIGHUP swaps in a new model while telemetry flows (nothing lost, later
 * events carry its id); a broken file sent by the control topic is refused. */
void it_model_reload(void);
/* iotad killed with SIGKILL after a periodic snapshot: the restart restores
 * the open alert and scores what the broker kept; no second raise. */
void it_crash_restart(void);
/* A simulated stream in three parts with kill -9 of the broker after the
 * first and of iotad after the second: every alert of an undisturbed run
 * arrives, extra copies only as QoS 1 duplicates (counted and printed). */
void it_restarts(void);
/* A broker outage twice stale_after long, the devices sending throughout
 * (their own clocks jump over it): no stale and no cleared; their final
 * silence is stale, once each. */
void it_broker_outage(void);

#endif
