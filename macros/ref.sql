{#- ref(): dbt's ref without the database (catalog) part. DuckDB names a
    file's catalog after the file's name, so a view compiled as
    "warehouse"."main"."x" breaks in a copy of the file under another name
    (which BI users are told to use). Schema-qualified names resolve in the
    catalog the view lives in, whatever the file is called.
    Under SQLMesh (sqlmesh_project/), the Python models are native SQLMesh
    models named in the var shoplens_native_models: their refs read them as
    the source shoplens_native (python_models/_sqlmesh__sources.yml), which
    SQLMesh resolves to those models. -#}
{% macro ref() %}
    {%- set name = varargs | last -%}
    {%- if name in var('shoplens_native_models', []) -%}
        {{ return(source('shoplens_native', name)) }}
    {%- endif -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if relation is not string and relation.include is defined
        and relation.database == target.database -%}
        {%- set relation = relation.include(database=false) -%}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}
