{#- as_of_snapshots(as_of): a select of the snapshot dates (column as_of_date).

    `as_of` names a relation or CTE with the one-row `as_of` table. The
    snapshots are its as_of_date and, with the var `feature_snapshots` > 1,
    earlier dates `feature_snapshot_step_days` apart. Snapshot k of a build
    holds exactly what a build with as_of_date = that date holds (tested). -#}
{% macro as_of_snapshots(as_of) -%}
    {%- set n = var('feature_snapshots') | int %}
    {%- set step = var('feature_snapshot_step_days') | int %}
    {%- if n < 1 or step < 1 %}
        {{ exceptions.raise_compiler_error(
            "shoplens: vars feature_snapshots and feature_snapshot_step_days must be"
            ~ " integers >= 1, got " ~ n ~ " and " ~ step) }}
    {%- endif %}
    select
        cast({{ as_of }}.as_of_date - cast(steps.k * {{ step }} as integer) as date)
            as as_of_date
    from {{ as_of }},
        range({{ n }}) as steps (k)
{%- endmacro %}
