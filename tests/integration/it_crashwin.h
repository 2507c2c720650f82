/* it_crashwin.h - the crash window (it_crashwin.c): what kill -9 of iotad
 * in the middle of a burst loses, with and without the telemetry journal. */
#ifndef IOTAD_IT_CRASHWIN_H
#define IOTAD_IT_CRASHWIN_H

/* A burst run undisturbed, then killed halfway and restarted on its state
 * file without and with service.journal: samples kept in the state and
 * events against the undisturbed run; with the journal none is lost. A
 * journal without a state file, or that is a directory or not a journal,
 * is refused at start (exit 2). */
void it_crash_window(void);

#endif
