-- Warns (does not fail) when the var rfm_frequency_breakpoints puts half or
-- more of the customers (of at least 100) in one f_score whose customers
-- bought a different number of times: the breakpoints do not fit the shop's
-- purchase counts, and the F in RFM (and every segment keyed by it) tells
-- those customers apart by nothing. A grocery panel shopping about weekly
-- (median 74 purchases) had f_score 5 for 96% of its customers under the
-- default [2, 3, 4, 6], and called 37% of an active panel
-- 'cannot_lose_them'. A level of one purchase count (most shops' one-time
-- buyers, all f_score 1) cannot be split and does not warn. The row names the
-- level, its share and the purchase counts at the 20th, 40th, 60th and 80th
-- percentiles of the customers: breakpoints that split them in fifths (use
-- strictly ascending ones, e.g. {rfm_frequency_breakpoints: [20, 45, 90, 160]}).
{{ config(severity='warn') }}
with

rfm as (
    select * from {{ ref('customer_rfm') }}
),

ranked as (
    select
        frequency,
        row_number() over (order by frequency) as position,
        count(*) over () as n_customers
    from rfm
),

percentiles as (
    select
        min(case when position >= 0.2 * n_customers then frequency end) as p20,
        min(case when position >= 0.4 * n_customers then frequency end) as p40,
        min(case when position >= 0.6 * n_customers then frequency end) as p60,
        min(case when position >= 0.8 * n_customers then frequency end) as p80
    from ranked
),

levels as (
    select
        f_score,
        count(*) as n_in_level,
        min(frequency) as min_frequency,
        max(frequency) as max_frequency
    from rfm
    group by f_score
),

shop as (
    select count(*) as n_customers from rfm
),

final as (
    select
        levels.f_score,
        levels.n_in_level,
        shop.n_customers,
        round(levels.n_in_level / shop.n_customers, 3) as share_of_customers,
        percentiles.p20,
        percentiles.p40,
        percentiles.p60,
        percentiles.p80
    from levels
    cross join shop
    cross join percentiles
    where
        shop.n_customers >= 100
        and levels.n_in_level >= 0.5 * shop.n_customers
        and levels.max_frequency > levels.min_frequency
)

select * from final
