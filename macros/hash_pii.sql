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

{#- shoplens_customer_id(column, types): a raw customer id as the warehouse keeps it: its
    clean text, or with the var hash_customer_ids its salted hash (hash_pii: trimmed and
    lower-cased first), for an export keyed by the buyer's e-mail address (Shopify's orders
    export). Orders, customers and events hash alike, so their ids still meet. -#}
{% macro shoplens_customer_id(column, types={}) %}
    {%- if shoplens_hash_customer_ids() -%}
        {{ hash_pii(column, types) }}
    {%- else -%}
        {{ clean_text(column, types) }}
    {%- endif -%}
{% endmacro %}

{#- shoplens_hash_customer_ids(): the var hash_customer_ids as a boolean; anything but
    true or false stops the build naming the var. -#}
{% macro shoplens_hash_customer_ids() %}
    {%- set value = var('hash_customer_ids', false) -%}
    {%- set text = value | string | trim | lower -%}
    {%- if text in ('true', 'yes', '1') -%}
        {{ return(true) }}
    {%- elif text in ('false', 'no', '0', '', 'none') -%}
        {{ return(false) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "var hash_customer_ids: '" ~ value ~ "' must be true (customer ids are replaced by their"
        ~ " salted hash) or false") }}
{% endmacro %}

{#- shoplens_row_with_customer_id(relation, types): shoplens_row(relation), with the
    customer_id field hashed when the var hash_customer_ids is on (the audit's raw values
    must not hold the address the warehouse hashed). -#}
{% macro shoplens_row_with_customer_id(relation, types={}) %}
    {%- if not shoplens_hash_customer_ids() or not types -%}
        {{ return(shoplens_row(relation)) }}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for name in types -%}
        {%- if name == 'customer_id' -%}
            {%- set qualified = relation ~ '.customer_id' -%}
            {%- do fields.append([name, hash_pii(qualified, {qualified: types[name]})]) -%}
        {%- else -%}
            {%- do fields.append([name, relation ~ '.' ~ adapter.quote(name)]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(shoplens_struct(fields)) }}
{% endmacro %}
