"""The main job on the embedded local backend, from Python: a project, then a training job
submitted, followed and inspected.

Run with the project's virtual environment: .venv/bin/python examples/quickstart.py
"""

import os
import sys

import mlcore

here = os.path.dirname(os.path.abspath(__file__))
client = mlcore.Client(project="demo")  # MLC_BACKEND / config context / local://$XDG_DATA_HOME/mlcore
print(f"backend: {client.backend} ({client.config['backend_source']})")

try:
    client.get_project("demo")
except mlcore.NotFoundError:
    client.create_project("demo", description="quick-start project",
                          guaranteed={"cpu": 2, "memory": "4Gi"}, limit="cpu=4,memory=16Gi")

job = client.submit_job([sys.executable, "train.py"], working_dir=here, flavor="cpu-2-8",
                        env={"EPOCHS": "10"}, labels={"team": "demo"}, deadline="10m")
print(f"submitted {job.name} ({job.id})")
for line in job.logs(follow=True):
    print(f"  {line.text}")
job.wait()
print(f"{job.name}: {job.state}, exit code {job.exit_code}, "
      f"used {job.data.resources_used.cpu_seconds:.2f} cpu-s")
print(f"guaranteed quota of demo: {client.get_project('demo').guaranteed.to_dict()}")
run = client.get_run(job.data.run_id)  # every job has a tracking run; train.py logged into it
steps, losses, _ = client.get_metric_history(run.id, "loss")
print(f"run {run.name} ({run.id}): {run.status}, params {dict(sorted(run.params.to_dict().items()))}, "
      f"loss {losses[0]:.3f} -> {losses[-1]:.4f} over {len(steps)} epochs")
