-- One row per customer with a purchased order line up to as_of_date: the
-- named profile (k-means on a truncated SVD of the customer's category and
-- price band mix) and its embedding. Thin contract over
-- ml_customer_profiles; see docs/profiles.md.
with

ml_customer_profiles as (

    select * from {{ ref('ml_customer_profiles') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(profile_id as integer) as profile_id,
        cast(profile_name as {{ dbt.type_string() }}) as profile_name,
        cast(profile_traits as {{ dbt.type_string() }}) as profile_traits,
        cast(embedding as {{ shoplens_double_array() }}) as embedding,
        cast(n_purchase_lines as bigint) as n_purchase_lines,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(as_of_date as date) as as_of_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version
    from ml_customer_profiles

)

select * from final
