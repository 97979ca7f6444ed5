#!/usr/bin/env python3
"""Reference goodput and badput for mfu-exporter, by Google's ml-goodput-measurement.

README
======

What this measures
------------------
Five training timelines (steady; one crash and resume with rollback; two crashes; long
checkpoint stalls; slow steps) are written twice:

* as the events ``ml-goodput-measurement`` records (``record_job_start_time``,
  ``record_step_start_time``, ``record_job_end_time``, and Orbax-style checkpoint save
  statistics for the stalls), through its own ``GoodputRecorder`` into an in-memory logger
  (the ``MockCloudLogger`` of its ``tests/goodput_test.py``), then computed by its own
  ``GoodputCalculator.get_job_goodput`` and ``get_job_goodput_details``;
* as the log records mfu-exporter reads: a timestamped start-up line at the job's start,
  then one line per completed step (``step`` = iterations completed, as Megatron counts),
  timestamped when the step ended.

``tests/fixtures/goodput/<scenario>.json`` holds the records and the reference's numbers;
``tests/it/goodput.rs`` feeds the records to the exporter's state and compares.

The mapping: the reference's step ``k`` starts at ``start[k]`` and ends at the next step's start,
where the exporter sees the line ``step = k + 1``. A crash during step ``K`` leaves the last line
at ``start[K]``; the resumed job records ``start[S]`` again (the reference's restart marker) and
logs ``step = S + 1`` at that step's end, which is below the last step: a restart.

How to run
----------
    python3 -m venv /tmp/gpvenv
    /tmp/gpvenv/bin/pip install -r tools/reference/goodput-requirements.txt
    /tmp/gpvenv/bin/python tools/reference/goodput.py

Pinned in ``goodput-requirements.txt``: ``ml-goodput-measurement==0.2.3`` (PyPI), Python 3.11. The calculator reads no
clock for these numbers because every timeline ends with ``record_job_end_time``.
"""

import dataclasses
import datetime
import json
import math
import pathlib
import tempfile

from ml_goodput_measurement.src import goodput
from ml_goodput_measurement.src import goodput_utils

BadputType = goodput_utils.BadputType
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "goodput"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class MemoryLogger:
    """The in-memory logger of the reference's own tests (tests/goodput_test.py)."""

    def __init__(self):
        self.entries = []
        self.last_entry_info = None

    def write_cloud_logging_entry(self, entry):
        timestamp = goodput_utils.get_timestamp_from_log_entry(entry)
        if timestamp is not None:
            self.entries.append((timestamp, entry))
            self.last_entry_info = (timestamp, timestamp)

    def read_cloud_logging_entries(self, start_time=None, end_time=None, last_entry_info=None):
        def aware(dt):
            if dt is not None and dt.tzinfo is None:
                return dt.replace(tzinfo=datetime.timezone.utc)
            return dt

        start_time, end_time = aware(start_time), aware(end_time)
        return [
            entry
            for timestamp, entry in self.entries
            if (start_time is None or timestamp > start_time)
            and (end_time is None or timestamp <= end_time)
        ], self.last_entry_info

    def flush(self):
        pass


@dataclasses.dataclass
class Segment:
    """One run of the trainer process, from its start to its end or crash."""

    startup_seconds: float  # job start to the first step's start
    first_step: int  # the step it resumes at (steps before it are checkpointed)
    steps: int  # steps it starts
    first_step_extra_seconds: float = 20.0  # compilation
    crash_after_seconds: float | None = None  # into the last started step; None: a clean end
    downtime_seconds: float = 0.0  # crash to the next job start
    stalls: dict = dataclasses.field(default_factory=dict)  # step -> checkpoint seconds after it
    slow: dict = dataclasses.field(default_factory=dict)  # step -> extra seconds


def step_seconds(step: int) -> float:
    """A steady 10 s step with a small deterministic jitter (0.1 %)."""
    return 10.0 + 0.01 * math.sin(step * 1.7)


def build(segments):
    """The reference's events and the exporter's log records of one timeline."""
    events = []  # (kind, step, time, extra)
    log = [{"timestamp": T0}]
    t = T0
    for index, seg in enumerate(segments):
        events.append(("job_start", None, t, None))
        t += seg.startup_seconds
        last = seg.first_step + seg.steps - 1
        for step in range(seg.first_step, last + 1):
            events.append(("step_start", step, t, None))
            crashing = seg.crash_after_seconds is not None and step == last
            if crashing:
                t += seg.crash_after_seconds
                break
            duration = step_seconds(step) + seg.slow.get(step, 0.0)
            if step == seg.first_step:
                duration += seg.first_step_extra_seconds
            t += duration
            # The trainer logs the step, then saves.
            log.append({"timestamp": t, "step": step + 1})
            if step in seg.stalls:
                # A blocking checkpoint save after the step, before the next one starts.
                events.append(("save", step, t, seg.stalls[step]))
                t += seg.stalls[step]
        if seg.crash_after_seconds is None:
            events.append(("job_end", None, t, None))
        else:
            t += seg.downtime_seconds
        assert index < len(segments) - 1 or seg.crash_after_seconds is None
    return events, log


def reference(name, events):
    logger = MemoryLogger()
    recorder = goodput.GoodputRecorder(name, "log", True, logger)
    when = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    for kind, step, t, extra in events:
        if kind == "job_start":
            recorder.record_job_start_time(when(t))
        elif kind == "step_start":
            recorder.record_step_start_time(step, when(t))
        elif kind == "job_end":
            recorder.record_job_end_time(when(t))
        elif kind == "save":
            # Orbax's checkpoint manager statistics, as the reference's tests write them.
            logger.write_cloud_logging_entry(
                {
                    "step": step,
                    "event_type": "save",
                    "directory": "gs://bucket/path",
                    "reached_preemption": False,
                    "preemption_received_at": None,
                    "synchronous": True,
                    "wait_for_prev_start_time": t,
                    "wait_for_prev_duration_secs": 0.0,
                    "checkpointer_blocking_start_time": t,
                    "checkpointer_blocking_duration_secs": extra,
                    "get_old_steps_start_time": t,
                    "get_old_steps_duration_secs": 0.0,
                    "checkpoint_manager_blocking_start_time": t,
                    "checkpoint_manager_blocking_duration_secs": extra,
                }
            )
    with tempfile.TemporaryDirectory() as cache:
        calculator = goodput.GoodputCalculator(name, "log", logger, cache_dir=cache)
        calculator.get_job_goodput(include_badput_breakdown=True)
        details = calculator.get_job_goodput_details()
        step_times = list(calculator._get_step_times(calculator._goodput_cache.get_step_entries()).values())
    badput = {}
    for kind, value in details["badput_time"].items():
        if isinstance(value, dict):
            value = sum(value.values())
        badput[kind.name.lower()] = float(value)
    deviations = details["step_time_deviation"]
    return {
        "goodput_seconds": float(details["goodput_time"][goodput_utils.GoodputType.TOTAL]),
        "badput_seconds": badput,
        "total_elapsed_seconds": float(details["total_elapsed_time"]),
        "disruptions": int(details["disruption_count"]),
        "ideal_step_seconds": float(details["ideal_step_time"]),
        "step_time_deviation_seconds": float(
            goodput_utils.compute_step_deviation_from_baseline(deviations)
        ),
        # The time of steps above median + 3·MAD beyond the normal steps' mean.
        "anomalous_step_extra_seconds": float(
            goodput_utils.get_extra_time_from_anomalous_steps(step_times)
        ),
    }


SCENARIOS = {
    "steady": (
        "300 steps of about 10 s after 120 s of start-up; the first step compiles for 20 s.",
        [Segment(startup_seconds=120.0, first_step=0, steps=300)],
    ),
    "crash-rollback": (
        "A crash 4 s into step 200, 300 s down, resumed from the checkpoint of step 150 after "
        "90 s of start-up, then 250 more steps.",
        [
            Segment(120.0, 0, 201, crash_after_seconds=4.0, downtime_seconds=300.0),
            Segment(90.0, 150, 250),
        ],
    ),
    "two-crashes": (
        "Two crashes: at step 180 back to 100, at step 260 back to 250, then on to step 400.",
        [
            Segment(120.0, 0, 181, crash_after_seconds=6.0, downtime_seconds=240.0),
            Segment(60.0, 100, 161, crash_after_seconds=3.0, downtime_seconds=600.0),
            Segment(60.0, 250, 150),
        ],
    ),
    "checkpoint-stall": (
        "300 steady steps with blocking checkpoint saves of 180 s after steps 100, 200 and 250.",
        [Segment(120.0, 0, 300, stalls={99: 180.0, 199: 180.0, 249: 180.0})],
    ),
    "slow-steps": (
        "400 steps of which 40 (every tenth from step 5) take 5 s longer.",
        [Segment(120.0, 0, 400, slow={s: 5.0 for s in range(5, 400, 10)})],
    ),
}


def main():
    # The reference's cache tries to save metadata it cannot serialise; harmless here.
    goodput_utils.logging.disable(goodput_utils.logging.ERROR)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (description, segments) in SCENARIOS.items():
        events, log = build(segments)
        fixture = {
            "scenario": name,
            "description": description,
            "made_by": "tools/reference/goodput.py with ml-goodput-measurement==0.2.3",
            "records": log,
            "reference": reference(name, events),
        }
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        print(path, json.dumps(fixture["reference"]))


if __name__ == "__main__":
    main()
