{#- spark__alter_column_set_constraints: a contract's not_null constraints on
    Spark. dbt-spark enforces them with ALTER COLUMN ... SET NOT NULL, which
    only Delta tables support; the project writes plain Parquet tables (they
    run on any Spark). So the built table is checked instead: a null in a
    not_null column fails the model with an error naming the table, the
    column and the rule, as DuckDB's NOT NULL constraint fails it. -#}
{% macro spark__alter_column_set_constraints(relation, column_dict) %}
    {%- for column_name in column_dict -%}
        {%- for constraint in column_dict[column_name]['constraints'] -%}
            {%- if constraint.type == 'not_null' -%}
                {%- set quoted = adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name -%}
                {%- set found = run_query('select count(*) as n from ' ~ relation ~ ' where ' ~ quoted ~ ' is null') -%}
                {%- set n_null = found.columns[0].values()[0] -%}
                {%- if n_null > 0 -%}
                    {{ exceptions.raise_compiler_error(
                        "shoplens: " ~ relation ~ "." ~ column_name ~ ": " ~ n_null
                        ~ " null value(s) break the contract's not_null constraint") }}
                {%- endif -%}
            {%- elif constraint.type != 'check' -%}
                {{ exceptions.warn('shoplens: constraint ' ~ constraint.type ~ ' on ' ~ relation
                    ~ '.' ~ column_name ~ ' is not enforced on Spark (Parquet tables)') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}
