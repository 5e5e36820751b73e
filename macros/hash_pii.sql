{#- hash_pii(column): salted SHA-256 of a normalised (trimmed, lower-case)
    PII value. The salt is read from the environment variable
    SHOPLENS_PII_SALT by the DuckDB function shoplens_pii_salt() when the
    query runs (shoplens/duckdb_plugin.py), so it never appears in compiled
    SQL, target/ or the docs. Without the variable the public sample salt is
    used, which shoplens_check_pii_salt allows for the bundled sample only. -#}
{% macro hash_pii(column, types={}) %}
    case
        when {{ clean_text(column, types) }} is not null
            then {{ shoplens_sha256(
                "coalesce(" ~ shoplens_pii_salt() ~ ", 'shoplens-sample-salt')
                || lower(" ~ clean_text(column, types) ~ ")") }}
    end
{% endmacro %}
