{#- shoplens_show_warned_rows(results, max_rows): on-run-end. dbt prints a
    test that warns as "WARN n" and nothing of its rows, which hold what the
    warning is about (the placeholder customer id, each currency's share, the
    suggested as_of_date or RFM breakpoints). For every test of this
    invocation that warned, run its compiled query again and print its first
    `max_rows` rows, one line each, `column=value` (values cut to 80
    characters; an e-mail address shown as such, never itself), so the build's output
    names them. Read-only: the query is
    the one the test ran moments before. -#}
{% macro shoplens_show_warned_rows(results, max_rows=5) %}
    {%- if not execute or flags.WHICH not in ('build', 'test') -%}
        {{ return('') }}
    {%- endif -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- if (result.status | string) == 'warn' and node.resource_type == 'test' and node.compiled_code -%}
            {%- set header = 'shoplens WARNING: the test ' ~ node.name ~ ' warned with '
                ~ result.failures ~ ' row(s)' -%}
            {%- set query = 'select * from (' ~ node.compiled_code ~ '\n) as warned_rows limit ' ~ max_rows -%}
            {%- set rows = run_query(query) -%}
            {%- do log(header ~ (', the first ' ~ max_rows if result.failures > max_rows else '')
                ~ ' (' ~ node.original_file_path ~ '):', info=true) -%}
            {%- for row in rows.rows -%}
                {%- set cells = [] -%}
                {%- for column in rows.column_names -%}
                    {%- set value = row[column] | string -%}
                    {#- never an address in the output (an e-mail used as a customer id) -#}
                    {%- if '@' in value and modules.re.search(shoplens_email_pattern(), value) -%}
                        {%- set value = '<an e-mail address>' -%}
                    {%- endif -%}
                    {%- do cells.append(column ~ '='
                        ~ (value[:77] ~ '...' if value | length > 80 else value)) -%}
                {%- endfor -%}
                {%- do log('  ' ~ cells | join(', '), info=true) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
