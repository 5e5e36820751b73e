{#- shoplens_check_pii_salt(raw_dir): stop the build when real data (any
    folder but the bundled sample, data/sample) is built without the
    environment variable SHOPLENS_PII_SALT. Only whether the variable is set
    is read here (by a DuckDB function), never its value. -#}
{% macro shoplens_check_pii_salt(raw_dir) %}
    {%- set sample = shoplens_project_root() ~ '/data/sample' -%}
    {%- if raw_dir == sample -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query('select ' ~ shoplens_pii_salt() ~ ' is not null') -%}
    {%- if not found.columns[0].values()[0] -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the environment variable SHOPLENS_PII_SALT is not set; "
            ~ "it salts the hashes of PII (emails) and is required for any data "
            ~ "but the bundled sample (raw_data_dir = " ~ raw_dir ~ "). Set a long "
            ~ "random secret and keep it: export SHOPLENS_PII_SALT=\"$(openssl rand -hex 32)\"") }}
    {%- endif -%}
{% endmacro %}
