-- One row per model step and run: whether the step served its model (ok), a
-- fallback or boundary model (degraded) or nothing (declined), and why.
-- A union of the per-step tables written by the Python models; the post-hook
-- prints one warning line per step that is not ok (report_model_status).
{{ config(post_hook="{{ report_model_status(this) }}") }}
{%- set parts = ['ml_clv_status', 'ml_forecast_status', 'ml_propensity_status',
    'ml_recommend_status', 'ml_profiles_status'] %}
with

{% for part in parts -%}
    {{ part }} as (
        select
            cast(model_step as {{ dbt.type_string() }}) as model_step,
            cast(status as {{ dbt.type_string() }}) as status,
            cast(served_model as {{ dbt.type_string() }}) as served_model,
            cast(reason as {{ dbt.type_string() }}) as reason,
            cast(rows_written as bigint) as rows_written,
            cast(as_of_date as date) as as_of_date
        from {{ ref(part) }}
    ),

{% endfor -%}
final as (
    {% for part in parts -%}
        select * from {{ part }}
        {% if not loop.last %}union all
        {% endif -%}
    {% endfor %}
)

select * from final
