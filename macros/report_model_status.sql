{#- report_model_status: post-hook of ml_model_status. Prints one warning
    line per model step whose status is not 'ok', and stops the build when a
    step declined and the var on_model_decline is 'error' (default 'warn'). -#}
{% macro report_model_status(relation) %}
    {%- if execute -%}
        {%- set policy = var('on_model_decline', 'warn') | string | lower -%}
        {%- if policy not in ['warn', 'error'] -%}
            {{ exceptions.raise_compiler_error(
                "var on_model_decline must be 'warn' or 'error', got '" ~ policy
                ~ "'. Fix: --vars '{on_model_decline: warn}'") }}
        {%- endif -%}
        {%- set rows = run_query(
            "select model_step, status, served_model, reason from " ~ relation
            ~ " where status <> 'ok' order by model_step") -%}
        {%- set declined = [] -%}
        {%- for row in rows -%}
            {%- do log("WARNING shoplens model step " ~ row[0] ~ " " ~ row[1]
                ~ " (served " ~ row[2] ~ "): " ~ row[3], info=True) -%}
            {%- if row[1] == 'declined' -%}{%- do declined.append(row[0]) -%}{%- endif -%}
        {%- endfor -%}
        {%- if declined and policy == 'error' -%}
            {{ exceptions.raise_compiler_error(
                "model steps declined: " ~ declined | join(', ')
                ~ " (reasons in ml_model_status and the warnings above). The build fails because"
                ~ " on_model_decline is 'error'; fix the data as the reasons say, or set"
                ~ " --vars '{on_model_decline: warn}' to build with empty prediction tables") }}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
