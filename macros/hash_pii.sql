{#- hash_pii(column): salted SHA-256 of a normalised (trimmed, lower-case)
    PII value. The salt comes from the environment variable SHOPLENS_PII_SALT;
    the default salt is for the bundled sample only. -#}
{% macro hash_pii(column, types={}) %}
    case
        when {{ clean_text(column, types) }} is not null
            then sha256(
                '{{ env_var("SHOPLENS_PII_SALT", "shoplens-sample-salt") }}'
                || lower({{ clean_text(column, types) }})
            )
    end
{% endmacro %}
