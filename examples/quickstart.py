"""The main job on the embedded local backend, from Python: create a project and show it.

Run with the project's virtual environment: .venv/bin/python examples/quickstart.py
"""

import mlcore

client = mlcore.Client()  # MLC_BACKEND / config context / local://$XDG_DATA_HOME/mlcore
print(f"backend: {client.backend} ({client.config['backend_source']})")

try:
    project = client.get_project("demo")
except mlcore.NotFoundError:
    project = client.create_project(
        "demo",
        description="quick-start project",
        guaranteed={"cpu": 2, "memory": "4Gi"},
        limit="cpu=4,memory=8Gi",
    )

for p in client.projects():
    print(f"{p.name:20} guaranteed={p.guaranteed.to_dict() if p.guaranteed else '-'}")
print(project.to_json())
