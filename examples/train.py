"""A tiny training job: fits y = 3x + 2 with gradient descent (pure Python, no dependencies).

It prints its progress, logs loss and parameters to the job's tracking run when the mlcore package
is importable (inside a job, mlcore.start_run() attaches to the job's run), honours SIGTERM
(cancel/preemption) by saving a checkpoint, resumes from the checkpoint when requeued, and writes
the model to outputs/model.json.
Run it as a job: mlc job submit -f examples/train.yaml --follow
"""

import json
import os
import random
import signal
import sys
import time

EPOCHS = int(os.environ.get("EPOCHS", "20"))
LR = float(os.environ.get("LR", "0.05"))
CHECKPOINT = "outputs/checkpoint.json"
stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
os.makedirs("outputs", exist_ok=True)
rng = random.Random(7)
data = [(x / 10, 3 * x / 10 + 2 + rng.gauss(0, 0.1)) for x in range(-50, 50)]

w, b, start = 0.0, 0.0, 0
if os.path.exists(CHECKPOINT):
    with open(CHECKPOINT) as f:
        state = json.load(f)
    w, b, start = state["w"], state["b"], state["epoch"]
    print(f"resuming from epoch {start}", flush=True)

print(f"job {os.environ.get('MLC_JOB_NAME', '(local)')} training for {EPOCHS} epochs, lr={LR}",
      flush=True)
try:  # tracking is optional: the script also runs where mlcore is not installed
    import mlcore
    run = mlcore.start_run(params={"epochs": EPOCHS, "lr": LR}) if os.environ.get("MLC_RUN_ID") else None
except ImportError:
    run = None
for epoch in range(start, EPOCHS):
    gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - LR * gw, b - LR * gb
    loss = sum((w * x + b - y) ** 2 for x, y in data) / len(data)
    print(f"epoch {epoch + 1:3d}  loss {loss:.4f}  w {w:.3f}  b {b:.3f}", flush=True)
    if run is not None:
        run.log_metrics({"loss": loss, "w": w, "b": b}, step=epoch + 1)
    if stop:
        if run is not None:
            run.flush()
        with open(CHECKPOINT, "w") as f:
            json.dump({"w": w, "b": b, "epoch": epoch + 1}, f)
        print("stopping: checkpoint saved", file=sys.stderr, flush=True)
        sys.exit(143)
    time.sleep(float(os.environ.get("EPOCH_SECONDS", "0")))

with open("outputs/model.json", "w") as f:
    json.dump({"w": w, "b": b, "loss": loss}, f)
if run is not None:
    run.end()  # flushes; the job's end ends the run
print(f"done: y = {w:.2f}x + {b:.2f}", flush=True)
