-- The calibration/holdout table of Fader, Hardie and Lee: per calibration
-- frequency bucket, the mean repeat purchase days each count model expected
-- in the evaluation window next to what customers did. One row per model and
-- frequency bucket. Read ml_clv_parameters.selection_reason for the model in
-- use; plotted by scripts/plot_clv.py.

with

ml_clv_evaluation as (
    select * from {{ ref('ml_clv_evaluation') }}
),

buckets as (
    select
        model_name,
        slice,
        evaluation_type,
        holdout_start_date,
        holdout_end_date,
        n_obs,
        metric,
        value
    from ml_clv_evaluation
    where
        task = 'repeat_purchases'
        and slice like 'frequency=%'
        and metric in ('predicted_mean', 'actual_mean')
),

pivoted as (
    select
        model_name,
        slice as frequency_bucket,
        evaluation_type,
        holdout_start_date,
        holdout_end_date,
        max(n_obs) as n_customers,
        max(case when metric = 'predicted_mean' then value end)
            as predicted_purchases_per_customer,
        max(case when metric = 'actual_mean' then value end)
            as actual_purchases_per_customer
    from buckets
    group by
        model_name,
        slice,
        evaluation_type,
        holdout_start_date,
        holdout_end_date
),

final as (
    select
        *,
        predicted_purchases_per_customer - actual_purchases_per_customer
            as error_per_customer
    from pivoted
)

select * from final
order by model_name, frequency_bucket
