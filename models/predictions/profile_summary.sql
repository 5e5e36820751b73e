-- One row per customer profile: its size, share of customers and of
-- revenue (purchases up to as_of_date), and its top traits.
with

customer_profiles as (

    select * from {{ ref('customer_profiles') }}

),

per_profile as (

    select
        profile_id,
        max(profile_name) as profile_name,
        max(profile_traits) as top_traits,
        count(*) as n_customers,
        sum(revenue) as revenue,
        avg(n_purchase_lines) as avg_purchase_lines,
        max(as_of_date) as as_of_date,
        max(model_version) as model_version
    from customer_profiles
    group by profile_id

),

totals as (

    select
        sum(n_customers) as all_customers,
        sum(revenue) as all_revenue
    from per_profile

),

final as (

    select
        cast(per_profile.profile_id as integer) as profile_id,
        cast(per_profile.profile_name as {{ dbt.type_string() }}) as profile_name,
        cast(per_profile.n_customers as bigint) as n_customers,
        cast(
            per_profile.n_customers / totals.all_customers as double
        ) as customer_share,
        cast(per_profile.revenue as decimal(18, 2)) as revenue,
        cast(
            per_profile.revenue / nullif(totals.all_revenue, 0) as double
        ) as revenue_share,
        cast(per_profile.avg_purchase_lines as double) as avg_purchase_lines,
        cast(per_profile.top_traits as {{ dbt.type_string() }}) as top_traits,
        cast(per_profile.as_of_date as date) as as_of_date,
        cast(per_profile.model_version as {{ dbt.type_string() }}) as model_version
    from per_profile
    cross join totals

)

select * from final
