{#-
    register_raw_tables(): run at the start of every dbt invocation
    (on-run-start). For each table of the raw input contract it looks in the
    folder named by the var `raw_data_dir` for `<table>.parquet`,
    `<table>.csv` or `<table>.csv.gz` and creates the view `raw.<table>` over
    it, which the sources in models/staging/shop read.

    * A relative `raw_data_dir` is taken from the project root (the folder of
      dbt_project.yml), wherever dbt is run from. Any folder name works: paths
      are quoted as SQL string literals.
    * Two files for one table (say orders.csv and orders.parquet) stop the
      build with an error naming both: shoplens never picks one silently.
    * A missing required table (only `orders`) or a missing required column
      stops the build with an error naming the file, the table and the column.
    * A CSV file that is not in the encoding of the var `raw_csv_encoding`
      (utf-8 by default) stops the build naming the file and the first bad
      byte; one in another encoding than UTF-8 is read through a UTF-8 copy
      (duckdb__shoplens_raw_reader).
    * A missing optional table becomes an empty view with the contract's
      columns, so every model builds (and produces empty tables).
    * A missing optional column becomes a NULL column. Header names match
      whatever their case and surrounding spaces.
    * CSV files are read as text (all_varchar) so that staging can test every
      value and quarantine what does not parse instead of failing the load.
    * Real data (anything but the bundled sample) needs the environment
      variable SHOPLENS_PII_SALT (see shoplens_check_pii_salt).
-#}
{% macro register_raw_tables() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- do shoplens_check_engine() -%}
    {%- set spec = shoplens_raw_contract() -%}
    {%- set dir = shoplens_raw_data_dir() -%}
    {%- do shoplens_check_pii_salt(dir) -%}
    {%- set statements = ['create schema if not exists raw'] -%}
    {%- for table, columns in spec.items() -%}
        {%- set file = shoplens_find_raw_file(dir, table) -%}
        {%- if file is none -%}
            {%- if columns.required_table -%}
                {{ exceptions.raise_compiler_error(
                    "shoplens: required raw table '" ~ table ~ "' not found: expected "
                    ~ dir ~ "/" ~ table ~ ".parquet or " ~ dir ~ "/" ~ table
                    ~ ".csv (set the var raw_data_dir to the folder of your export)") }}
            {%- endif -%}
            {%- set cols = [] -%}
            {%- for c in columns.required + columns.optional -%}
                {%- do cols.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ c) -%}
            {%- endfor -%}
            {%- do statements.append('create or replace view raw.' ~ table ~ ' as select '
                ~ cols | join(', ') ~ ' where false') -%}
        {%- else -%}
            {%- do shoplens_check_raw_encoding(file, table) -%}
            {%- set reader = shoplens_raw_reader(file, table) -%}
            {%- set present = shoplens_raw_columns(reader) -%}
            {%- for c in columns.required -%}
                {%- if c not in present -%}
                    {{ exceptions.raise_compiler_error(
                        "shoplens: raw file " ~ file ~ " (table '" ~ table
                        ~ "') is missing required column '" ~ c ~ "'; found columns: "
                        ~ present.values() | join(', ')) }}
                {%- endif -%}
            {%- endfor -%}
            {%- set cols = [] -%}
            {%- for c in columns.required + columns.optional -%}
                {%- if c in present -%}
                    {%- do cols.append(shoplens_quote(present[c]) ~ ' as ' ~ c) -%}
                {%- else -%}
                    {%- do cols.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ c) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do statements.append('create or replace view raw.' ~ table ~ ' as select '
                ~ cols | join(', ') ~ ' from ' ~ reader) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(shoplens_run_statements(statements)) }}
{% endmacro %}


{#- The raw input contract: columns per table, and which are required. -#}
{% macro shoplens_raw_contract() %}
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
        'calendar': {'required_table': false,
                     'required': ['event_date', 'event_name'],
                     'optional': []},
    }) }}
{% endmacro %}


{#- A Jinja string as a SQL string literal (single quotes doubled). -#}
{% macro shoplens_sql_string(text) %}
    {{ return("'" ~ (text | string | replace("'", "''")) ~ "'") }}
{% endmacro %}


{#- The project root: the folder of dbt_project.yml, absolute. -#}
{% macro shoplens_project_root() %}
    {%- set given = invocation_args_dict.get('project_dir') or '.' -%}
    {%- set found = run_query('select shoplens_abspath(' ~ shoplens_sql_string(given)
        ~ ", '.')") -%}
    {{ return(found.columns[0].values()[0]) }}
{% endmacro %}


{#- The raw folder as an absolute path (views keep working from any cwd):
    a relative raw_data_dir is taken from the project root. -#}
{% macro shoplens_raw_data_dir() %}
    {%- set dir = var('raw_data_dir') | string -%}
    {%- set found = run_query('select shoplens_abspath(' ~ shoplens_sql_string(dir) ~ ', '
        ~ shoplens_sql_string(shoplens_project_root()) ~ ')') -%}
    {{ return(found.columns[0].values()[0]) }}
{% endmacro %}


{#- The one file of a table, or none. Two or more files for one table are an
    error that names them all. -#}
{% macro shoplens_find_raw_file(dir, table) %}
    {%- set names = [] -%}
    {%- for ext in ['parquet', 'csv', 'csv.gz'] -%}
        {%- do names.append(table ~ '.' ~ ext) -%}
    {%- endfor -%}
    {%- set listing = run_query(
        'select ' ~ shoplens_unnest('shoplens_list_files(' ~ shoplens_sql_string(dir) ~ ')')
        ~ ' as name') -%}
    {%- set found = [] -%}
    {%- for name in listing.columns[0].values() -%}
        {%- if name in names -%}{%- do found.append(dir ~ '/' ~ name) -%}{%- endif -%}
    {%- endfor -%}
    {%- if found | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: raw table '" ~ table ~ "' has " ~ found | length ~ " files: "
            ~ found | join(' and ') ~ "; keep exactly one of them in " ~ dir) }}
    {%- endif -%}
    {{ return(found[0] if found else none) }}
{% endmacro %}


{#- Stop, naming the file, when a CSV file is not in the expected encoding
    (DuckDB's own error does not name the file). -#}
{% macro shoplens_check_raw_encoding(path, table) %}
    {#- DuckDB reads a file in another encoding than UTF-8 through a copy whose writer
        checks it (duckdb__shoplens_raw_reader), once per change of the file -#}
    {%- set encoding = var('raw_csv_encoding', 'utf-8') -%}
    {%- if target.type == 'duckdb' and not shoplens_is_utf8_encoding(encoding) -%}
        {{ return('') }}
    {%- endif -%}
    {%- if path.endswith('.csv') -%}
        {%- set problem = run_query('select shoplens_text_problem(' ~ shoplens_sql_string(path)
            ~ ', ' ~ shoplens_sql_string(var('raw_csv_encoding', 'utf-8')) ~ ')') -%}
        {%- set message = problem.columns[0].values()[0] -%}
        {%- if message -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: raw file " ~ path ~ " (table '" ~ table ~ "') " ~ message) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- shoplens_raw_reader(path, table): what a query selects from to read the file. -#}
{% macro shoplens_raw_reader(path, table) %}
    {{- return(adapter.dispatch('shoplens_raw_reader')(path, table)) -}}
{% endmacro %}


{#- DuckDB reads a CSV file in UTF-8; one in another encoding (the var
    raw_csv_encoding: utf-16, latin-1, cp1252, any Python codec name) is read
    through a UTF-8 copy beside the warehouse, <warehouse>.raw_utf8/<table>.csv
    (shoplens_utf8_copy): DuckDB's own latin-1 refuses the bytes 0x80-0x9f that
    a Windows (cp1252) export uses for quotes, dashes and the euro sign. -#}
{% macro duckdb__shoplens_raw_reader(path, table) %}
    {%- if path.endswith('.parquet') -%}
        {{ return("read_parquet(" ~ shoplens_sql_string(path) ~ ")") }}
    {%- endif -%}
    {%- set encoding = var('raw_csv_encoding', 'utf-8') -%}
    {%- if not shoplens_is_utf8_encoding(encoding) -%}
        {#- the warehouse's own file (dbt's target.path; SQLMesh's target has none) -#}
        {%- set copied = run_query('select shoplens_utf8_copy(' ~ shoplens_sql_string(path) ~ ', '
            ~ shoplens_sql_string(encoding) ~ ', (select path from duckdb_databases()'
            ~ ' where database_name = current_database()))').columns[0].values()[0] -%}
        {%- if copied.startswith('!') -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: raw file " ~ path ~ " (table '" ~ table ~ "') " ~ copied[1:]) }}
        {%- endif -%}
        {%- set path = copied -%}
    {%- endif -%}
    {%- set options = ", header = true, all_varchar = true, encoding = 'utf-8'" ~ shoplens_csv_quoting(path) -%}
    {%- do shoplens_check_csv_lines(path, table, options) -%}
    {{ return("read_csv(" ~ shoplens_sql_string(path) ~ options ~ ")") }}
{% endmacro %}


{#- Stop, naming the file, the table and the line numbers, when lines of a CSV file do not
    read with its header's columns (a field holding the delimiter without quotes, a quote
    never closed). DuckDB's own error prints the line, which can hold an e-mail or a name,
    into the console, dbt.log and run_results.json; this message never shows a line's
    contents. Lines that do not decode are left to the encoding's own message. -#}
{% macro shoplens_check_csv_lines(path, table, options) %}
    {%- set rejects = 'shoplens_csv_rejects_' ~ table -%}
    {%- do run_query('drop table if exists ' ~ rejects) -%}
    {%- do run_query('drop table if exists ' ~ rejects ~ '_scan') -%}
    {%- do run_query('select count(*) from read_csv(' ~ shoplens_sql_string(path) ~ options
        ~ ", store_rejects = true, rejects_table = '" ~ rejects ~ "', rejects_scan = '" ~ rejects ~ "_scan')") -%}
    {%- set found = run_query("select count(*), string_agg(cast(line as varchar) || ' ('"
        ~ " || lower(cast(error_type as varchar)) || ')', ', ' order by line) filter (where k <= 3)"
        ~ ' from (select *, row_number() over (order by line) as k from ' ~ rejects
        ~ " where cast(error_type as varchar) <> 'INVALID ENCODING')").rows[0] -%}
    {%- do run_query('drop table if exists ' ~ rejects) -%}
    {%- do run_query('drop table if exists ' ~ rejects ~ '_scan') -%}
    {%- if found[0] > 0 -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: raw file " ~ path ~ " (table '" ~ table ~ "'): " ~ found[0] ~ " line(s) do not read"
            ~ " with the header's columns: line " ~ found[1] ~ (' and more' if found[0] > 3 else '')
            ~ " (line numbers count the header; the lines are not printed, they can hold personal data)."
            ~ " Fix: quote every field that holds the delimiter, a quote or a line break as RFC 4180 says"
            ~ ' ("a, b"; a quote inside doubled: "say ""hi"""), or export Parquet') }}
    {%- endif -%}
{% endmacro %}


{#- The quoting options of a CSV file: none (DuckDB's sniffer decides, from its sample of
    the first rows), or RFC 4180's double quote when the sample holds no quote at all and
    reads the same with it. A file whose first quoted field comes after the sample (a
    product name with a comma on line 26,736 of a Shopify export) was read as unquoted and
    failed there; files the sniffer reads with another quoting (backslash escapes, single
    quotes, a stray quote) are left to it. -#}
{% macro shoplens_csv_quoting(path) %}
    {%- set file = shoplens_sql_string(path) -%}
    {%- set sniffed = run_query("select Delimiter, Quote, len(Columns) from sniff_csv(" ~ file ~ ")").rows[0] -%}
    {%- if sniffed[1] != '(empty)' -%}{{ return('') }}{%- endif -%}
    {%- set rfc = run_query("select Delimiter, len(Columns) from sniff_csv(" ~ file
        ~ ", quote = '\"', escape = '\"')").rows[0] -%}
    {%- if rfc[0] == sniffed[0] and rfc[1] == sniffed[2] -%}
        {{ return(", quote = '\"', escape = '\"'") }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{#- {lower-case name: name as in the file} of a reader's columns. -#}
{% macro shoplens_raw_columns(reader) %}
    {%- set described = run_query(shoplens_describe('select * from ' ~ reader)) -%}
    {%- set present = {} -%}
    {%- for name in described.columns[0].values() -%}
        {%- do present.update({name | lower | trim: name}) -%}
    {%- endfor -%}
    {{ return(present) }}
{% endmacro %}


{#- Spark reads a raw file through a table over it, raw.<table>__file (the
    file stays where it is): CSV as text with RFC 4180 quoting (quotes
    doubled, quoted line breaks), as DuckDB reads it. -#}
{% macro spark__shoplens_raw_reader(path, table) %}
    {%- set name = 'raw.' ~ table ~ '__file' -%}
    {%- if path.endswith('.parquet') -%}
        {%- set using = "parquet options (path " ~ shoplens_sql_string(path) ~ ")" -%}
    {%- else -%}
        {%- set using = "csv options (path " ~ shoplens_sql_string(path) ~ ", header 'true', "
            ~ "inferSchema 'false', multiLine 'true', quote '\"', escape '\"', "
            ~ "mode 'PERMISSIVE', encoding " ~ shoplens_sql_string(var('raw_csv_encoding', 'utf-8')) ~ ")" -%}
    {%- endif -%}
    {%- do run_query('create schema if not exists raw') -%}
    {%- do run_query('drop table if exists ' ~ name) -%}
    {%- do run_query('create table ' ~ name ~ ' using ' ~ using) -%}
    {{ return(name) }}
{% endmacro %}


{#- shoplens_is_utf8_encoding(encoding): true when the var raw_csv_encoding names UTF-8. -#}
{% macro shoplens_is_utf8_encoding(encoding) %}
    {{ return((encoding | lower | replace('_', '-')) in ('utf-8', 'utf8', 'utf-8-sig')) }}
{% endmacro %}
