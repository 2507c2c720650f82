/* it_examples.h - integration tests of `iotad sim --replay` and of the
 * programs in examples/ (it_examples.c). */
#ifndef IOTAD_IT_EXAMPLES_H
#define IOTAD_IT_EXAMPLES_H

/* A CSV file replayed to the broker arrives row for row as JSON. */
void it_replay_csv(void);
/* The alert subscribers of examples/ print one line for a published event. */
void it_examples_alert_subscribers(void);
/* train and eval draw no progress line when piped. */
void it_progress_quiet_when_piped(void);
/* train and eval draw a progress line on a terminal (skipped without a pty). */
void it_progress_on_terminal(void);
/* eval --truth labels rows as the label column does and counts the kinds. */
void it_eval_truth(void);

#endif
