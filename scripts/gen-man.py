#!/usr/bin/env python3
"""Write the iotad(1) man page from the binary's own --help texts, so the
page and the help say the same thing.  usage: gen-man.py IOTAD > docs/iotad.1
(tests/check_man.sh fails when the committed page is out of date)."""
import re
import subprocess
import sys

COMMANDS = ["run", "train", "sim", "eval", "config", "aggregate", "quantize"]


# Sections written here, not from --help: formats, signals, files, exit status.
MANUAL = r"""
.SH TELEMETRY FORMAT
One JSON object per MQTT message on \fBtopics.telemetry\fR (telemetry/+;
the device id is the topic level \fBtopics.device_level\fR), at most
\fBservice.max_payload\fR bytes:
.PP
.nf
{"ts": 1700000000.5, "temperature": 21.4, "humidity": 48.1, "battery": 97}
{"ts": "2024\-05\-01T12:00:00Z", "values": {"temperature": 21.4, ...}}
.fi
.PP
Every feature of the model is a finite number, at the top level or under
\fB"values"\fR; other keys are ignored. \fB"ts"\fR is epoch seconds or
RFC 3339 text; without it the arrival time is used. A message that does
not fit is rejected and counted by reason (oversize, not_json, not_object,
missing_feature, not_number, not_finite, bad_ts, bad_topic, device_cap,
duplicate, out_of_order) in \fBiotad_messages_rejected_total\fR; the
warning names the reason (a missing feature lists the keys that arrived),
at most one a second per reason.
.SH EVENTS
On a transition of a device, \fBiotad run\fR publishes on
\fB{alerts}/{device}\fR, and retained on \fB{state}/{device}\fR:
.PP
.nf
{"device":"sensor\-001","state":"raised","ts":1700000000,
 "time":"2023\-11\-14T22:13:20.000Z","score":0.8,"threshold":0.2,
 "contrib":{"temperature":0.9,...},"top":["temperature"],
 "model":{"id":"m","version":1},"seq":1}
.fi
.PP
\fBstate\fR is \fBraised\fR (k of the last n windows anomalous),
\fBcleared\fR (m normal windows in a row, or at start for a retained raised
state of a device not raised here: score and threshold null),
\fBstale\fR (silent for \fBdetector.stale_after\fR) or, on the state topic
only with Home Assistant discovery, \fBnormal\fR (a new device).
\fBseq\fR counts the events of a device. \fB"stuck"\fR lists features
held still when that made the window anomalous. The status topic holds
\fBonline\fR or \fBoffline\fR (also the last will), retained.
.SH STATE FILE
\fBservice.state_file\fR (default \fB$STATE_DIRECTORY/state.bin\fR when
systemd gives a state directory, else off) keeps every device's window,
threshold history, alert state and sequence number across restarts. It is
written every \fBservice.state_interval\fR seconds (after failures, ever
less often, up to 10 minutes) and at an orderly stop, atomically
(temporary file, fsync, rename). Binary, little endian: magic
\fBIOTADST1\fR, format version, model id and version, shape, threshold
kind, device count, one record per device, CRC\-32. A file of another
model or configuration is ignored with a warning; a damaged one is refused
with a message; both are counted in \fBiotad_state_rejected_total\fR.
.PP
\fBservice.journal\fR (off by default; needs a state file) appends every
accepted telemetry message to a file before the scorer sees it and cuts
the file after each state save, keeping the messages still queued. After
a crash (\fBkill \-9\fR) the messages it holds are scored again at
start, once the broker is connected: those already scored before the
crash without publishing their events again, the others as new. Magic
\fBIOTADJ1\fR, then records of length, CRC\-32, arrival time, topic and
payload. \fBservice.journal_fsync: true\fR flushes each record to disk.
With \fBservice.scorer_threads\fR above 1 each scorer thread has its own
journal: the path itself for the first, \fIPATH\fB.1\fR, \fIPATH\fB.2\fR,
\&... for the others; all are replayed at start, whatever the thread count
that wrote them.
.SH SIGNALS
.TP
.B SIGTERM, SIGINT
stop in order: input stops, accepted messages are scored, the state file
is saved, alerts in flight are delivered, \fBoffline\fR is published.
.TP
.B SIGHUP
reload the model from \fBmodel.path\fR between two messages (also a
message \fBreload\fR on \fBtopics.control\fR); a file that does not load
or fit is refused and the running model stays.
.SH EXIT STATUS
.TP
.B 0
orderly stop (or success of a one\-shot command)
.TP
.B 1
runtime error, e.g. the HTTP address cannot be bound, or a command failed
.TP
.B 2
bad usage, configuration or model (a missing model file: train one with
\fBiotad train\fR); the systemd unit does not restart on it
.SH ENVIRONMENT
.TP
.B IOTAD_MQTT_PASSWORD
the broker password (the variable named by \fBmqtt.password_env\fR)
.TP
.B STATE_DIRECTORY
set by systemd's \fBStateDirectory=\fR: the state file's default place
.SH FILES
.TP
.I /etc/iotad/iotad.yaml
configuration of the systemd unit (sample: config/iotad.yaml, every key commented)
.TP
.I /var/lib/iotad/state.bin
the state file under systemd (StateDirectory=iotad) and in the Docker image
(its /var/lib/iotad volume, which also holds the model)
.TP
.I config/iotad.service
hardened systemd unit running \fBiotad run\fR
"""


def helptext(exe, *args):
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def roff(text):
    """Preformatted help text as roff: escapes, headings in bold."""
    out = []
    for line in text.rstrip("\n").split("\n"):
        line = line.replace("\\", "\\e").replace("-", "\\-")
        if line[:1] in (".", "'"):
            line = "\\&" + line
        if re.fullmatch(r"[A-Z][A-Z ]+", line):
            line = "\\fB" + line + "\\fR"
        out.append(line)
    return "\n".join(out)


def main():
    exe = sys.argv[1]
    version = helptext(exe, "--version").split()[-1]
    top = helptext(exe, "--help")
    p = print
    p('.\\" generated by scripts/gen-man.py from `iotad --help` and each command\'s --help')
    p('.TH IOTAD 1 "" "iotad %s" "User Commands"' % version)
    p(".SH NAME")
    p("iotad \\- streaming anomaly detection for IoT telemetry over MQTT")
    p(".SH SYNOPSIS")
    for c in COMMANDS:
        p(".B iotad %s" % c)
        p("[\\fIOPTIONS\\fR]")
        p(".br")
    p(".B iotad")
    p("\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR")
    p(".SH DESCRIPTION")
    p(".nf")
    p(roff(top))
    p(".fi")
    p(".SH COMMANDS")
    for c in COMMANDS:
        p(".SS iotad %s" % c)
        p(".nf")
        p(roff(helptext(exe, c, "--help")))
        p(".fi")
    for line in MANUAL.strip("\n").split("\n"):
        p(line)
    p(".SH SEE ALSO")
    p(".BR mosquitto (8),")
    p(".BR systemd.exec (5)")


if __name__ == "__main__":
    main()
