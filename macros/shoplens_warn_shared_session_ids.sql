{#- shoplens_warn_shared_session_ids(): a post-hook of int_shared_session_ids.
    When two or more customers use one exported session id (a session id
    unique only per visitor, as GA4's ga_session_id), print one warning
    naming how many ids, how many customers, the most shared id, and how the
    sessions were split (`dbt build --warn-error` turns it into an error). -#}
{% macro shoplens_warn_shared_session_ids() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set found = run_query(
        'select count(distinct session_id), count(distinct customer_id), max(n_customers) from ' ~ this) -%}
    {%- set n_ids, n_customers, most = found.rows[0] -%}
    {%- if n_ids == 0 -%}{{ return('') }}{%- endif -%}
    {%- set example = run_query(
        'select session_id from ' ~ this ~ ' where n_customers = ' ~ most
        ~ ' order by session_id limit 1').rows[0][0] -%}
    {%- do exceptions.warn(
        "shoplens WARNING: " ~ n_ids ~ " session ids of the events export are each used by more than "
        ~ "one customer (" ~ n_customers ~ " customers in all; e.g. '" ~ example ~ "', by " ~ most
        ~ "): the export's session_id is not unique across visitors. Each customer's events under "
        ~ "such an id are a session of their own: the first customer keeps the id, the others get "
        ~ "'<session_id>:<customer_id>', and its anonymous events from the day a second customer "
        ~ "used it are one anonymous session '<session_id>:'. Export a session id unique per visitor "
        ~ "(GA4: user_pseudo_id with ga_session_id) to avoid this (see int_shared_session_ids and "
        ~ "docs/marts.md, Sessions)") -%}
    {{ return('') }}
{% endmacro %}
