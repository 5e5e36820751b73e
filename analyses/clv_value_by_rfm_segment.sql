-- Lifetime value next to the RFM segments: per segment, how many customers,
-- how likely they are still active, and the CLV they are expected to bring
-- over the horizon. sum_clv_p10 / sum_clv_p90 add up the customers'
-- percentiles: a conservative band, not percentiles of the segment total.
-- One row per RFM segment.

with

pred_customer_ltv as (
    select * from {{ ref('pred_customer_ltv') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

joined as (
    select
        customer_rfm.segment,
        pred_customer_ltv.probability_alive,
        pred_customer_ltv.expected_purchases_365d,
        pred_customer_ltv.clv,
        pred_customer_ltv.clv_p10,
        pred_customer_ltv.clv_p90
    from pred_customer_ltv
    inner join customer_rfm
        on pred_customer_ltv.customer_id = customer_rfm.customer_id
),

final as (
    select
        segment,
        count(*) as n_customers,
        avg(probability_alive) as mean_probability_alive,
        sum(expected_purchases_365d) as expected_purchases_365d,
        sum(clv) as clv_total,
        sum(clv_p10) as sum_clv_p10,
        sum(clv_p90) as sum_clv_p90,
        avg(clv) as clv_per_customer
    from joined
    group by segment
)

select * from final
order by clv_total desc
