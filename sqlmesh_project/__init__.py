"""The SQLMesh side of shoplens: gateways, the dbt loader's settings and native Python models.

Run with ``sqlmesh -p . -p sqlmesh_project plan`` (``make sqlmesh``); see docs/sqlmesh.md.
"""
