{#-
    register_raw_tables(): run at the start of every dbt invocation
    (on-run-start). For each table of the raw input contract it looks in the
    folder named by the var `raw_data_dir` for `<table>.parquet` or
    `<table>.csv` and creates the view `raw.<table>` over it, which the
    sources in models/staging/shop read.

    * A missing required table (only `orders`) or a missing required column
      stops the build with an error naming the file, the table and the column.
    * A missing optional table becomes an empty view with the contract's
      columns, so every model builds (and produces empty tables).
    * A missing optional column becomes a NULL column.
    * CSV files are read as text (all_varchar) so that staging can test every
      value and quarantine what does not parse instead of failing the load.
-#}
{% macro register_raw_tables() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set spec = _raw_contract() -%}
    {%- set dir = _raw_data_dir() -%}
    {%- set statements = ['create schema if not exists raw'] -%}
    {%- for table, columns in spec.items() -%}
        {%- set file = _find_raw_file(dir, table) -%}
        {%- if file is none -%}
            {%- if columns.required_table -%}
                {{ exceptions.raise_compiler_error(
                    "shoplens: required raw table '" ~ table ~ "' not found: expected "
                    ~ dir ~ "/" ~ table ~ ".parquet or " ~ dir ~ "/" ~ table
                    ~ ".csv (set the var raw_data_dir to the folder of your export)") }}
            {%- endif -%}
            {%- set cols = [] -%}
            {%- for c in columns.required + columns.optional -%}
                {%- do cols.append('cast(null as varchar) as ' ~ c) -%}
            {%- endfor -%}
            {%- do statements.append('create or replace view raw.' ~ table ~ ' as select '
                ~ cols | join(', ') ~ ' where false') -%}
        {%- else -%}
            {%- set reader = _raw_reader(file) -%}
            {%- set present = _raw_columns(reader) -%}
            {%- for c in columns.required -%}
                {%- if c not in present -%}
                    {{ exceptions.raise_compiler_error(
                        "shoplens: raw file " ~ file ~ " (table '" ~ table
                        ~ "') is missing required column '" ~ c ~ "'; found columns: "
                        ~ present | join(', ')) }}
                {%- endif -%}
            {%- endfor -%}
            {%- set cols = [] -%}
            {%- for c in columns.required + columns.optional -%}
                {%- if c in present -%}
                    {%- do cols.append('"' ~ present[c] ~ '" as ' ~ c) -%}
                {%- else -%}
                    {%- do cols.append('cast(null as varchar) as ' ~ c) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do statements.append('create or replace view raw.' ~ table ~ ' as select '
                ~ cols | join(', ') ~ ' from ' ~ reader) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{#- The raw input contract: columns per table, and which are required. -#}
{% macro _raw_contract() %}
    {{ return({
        'orders': {'required_table': true,
                   'required': ['order_id', 'customer_id', 'ordered_at', 'order_total'],
                   'optional': ['status', 'currency']},
        'order_items': {'required_table': false,
                        'required': ['order_id', 'product_id', 'quantity', 'unit_price'],
                        'optional': ['discount']},
        'products': {'required_table': false,
                     'required': ['product_id', 'category'],
                     'optional': ['product_name', 'list_price']},
        'customers': {'required_table': false,
                      'required': ['customer_id'],
                      'optional': ['email', 'signed_up_at', 'country']},
        'events': {'required_table': false,
                   'required': ['event_id', 'occurred_at', 'event_type'],
                   'optional': ['customer_id', 'session_id', 'product_id']},
    }) }}
{% endmacro %}


{#- The raw folder as an absolute path (views keep working from any cwd). -#}
{% macro _raw_data_dir() %}
    {%- set dir = var('raw_data_dir') | string -%}
    {%- if dir.endswith('/') -%}{%- set dir = dir[:-1] -%}{%- endif -%}
    {%- if not dir.startswith('/') -%}
        {%- set dir = env_var('PWD', '.') ~ '/' ~ dir -%}
    {%- endif -%}
    {{ return(dir) }}
{% endmacro %}


{#- Parquet wins over CSV when both exist. -#}
{% macro _find_raw_file(dir, table) %}
    {%- for ext in ['parquet', 'csv', 'csv.gz'] -%}
        {%- set path = dir ~ '/' ~ table ~ '.' ~ ext -%}
        {%- set found = run_query("select count(*) from glob('" ~ path ~ "')") -%}
        {%- if found.columns[0].values()[0] > 0 -%}
            {{ return(path) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{% macro _raw_reader(path) %}
    {%- if path.endswith('.parquet') -%}
        {{ return("read_parquet('" ~ path ~ "')") }}
    {%- else -%}
        {{ return("read_csv('" ~ path ~ "', header = true, all_varchar = true)") }}
    {%- endif -%}
{% endmacro %}


{#- {lower-case name: name as in the file} of a reader's columns. -#}
{% macro _raw_columns(reader) %}
    {%- set described = run_query('describe select * from ' ~ reader) -%}
    {%- set present = {} -%}
    {%- for name in described.columns[0].values() -%}
        {%- do present.update({name | lower | trim: name}) -%}
    {%- endfor -%}
    {{ return(present) }}
{% endmacro %}
