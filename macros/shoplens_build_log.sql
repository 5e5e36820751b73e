{#-
    The build log: one row per dbt invocation that writes to the warehouse
    (build, run, seed) in the table `build_log`, and the one-row view
    `build_status` over it that says whether the file is partial.

    * shoplens_build_log_start() (on-run-start) inserts the invocation's row
      with status 'running' before any model runs. A build killed midway
      leaves that row, so `build_status.is_partial` stays true until a later
      invocation succeeds.
    * shoplens_build_log_end(results) (on-run-end) empties every table model
      of this invocation that failed or was skipped (its rows would be stale
      next to the tables rebuilt from new inputs: old predictions beside new
      marts), then records the end time, the status ('success' or 'failed'),
      the failed nodes, the emptied tables and the resolved as_of_date.

    Readers (the serving publish step, BI checks) read `build_status`: a
    publish or a dashboard should only trust the file when is_partial is false.
-#}
{% macro shoplens_build_log_start() %}
    {%- if not execute or flags.WHICH not in ('build', 'run', 'seed') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set log_table = target.schema ~ '.build_log' -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- set statements = [
        shoplens_build_log_ddl(log_table),
        'insert into ' ~ log_table ~ ' (invocation_id, command, selection, started_at, status, '
        ~ 'as_of_date, dbt_version) values ('
        ~ shoplens_invocation_id(log_table, 'start') ~ ', ' ~ shoplens_sql_string(flags.WHICH) ~ ', '
        ~ shoplens_sql_string(shoplens_selection()) ~ ', '
        ~ ("cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp), "
            if invocation_id else 'cast(now() as timestamp), ')
        ~ "'running', "
        ~ ("cast(" ~ shoplens_sql_string(as_of) ~ " as date)" if as_of is not none else 'null') ~ ', '
        ~ shoplens_sql_string(dbt_version) ~ ')',
        'create or replace view ' ~ target.schema ~ '.build_status as '
        ~ 'with latest as (select * from ' ~ log_table ~ ' order by started_at desc limit 1), '
        ~ "last_success as (select max(finished_at) as last_success_at from " ~ log_table
        ~ " where status = 'success') "
        ~ 'select latest.invocation_id, latest.command, latest.status, '
        ~ "latest.status <> 'success' as is_partial, latest.started_at, "
        ~ 'latest.finished_at, latest.as_of_date, last_success.last_success_at '
        ~ 'from latest cross join last_success',
    ] -%}
    {{ return(shoplens_run_statements(statements)) }}
{% endmacro %}


{% macro shoplens_build_log_end(results) %}
    {%- if not execute or flags.WHICH not in ('build', 'run', 'seed') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set log_table = target.schema ~ '.build_log' -%}
    {%- set failed = [] -%}
    {%- set emptied = [] -%}
    {%- set statements = [] -%}
    {%- set existing = {} -%}
    {%- for result in results -%}
        {%- set status = result.status | string -%}
        {%- if status in ('error', 'fail', 'skipped', 'runtime error') -%}
            {%- do failed.append(result.node.name ~ ':' ~ status) -%}
            {%- set node = result.node -%}
            {%- if node.resource_type == 'model'
                and node.config.materialized in ('table', 'incremental') -%}
                {%- set relation = adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.alias) -%}
                {#- the catalog, not dbt's cache: a model whose hook failed was rolled back -#}
                {%- set where = node.database ~ '.' ~ node.schema -%}
                {%- if where not in existing -%}
                    {%- do existing.update({where: shoplens_existing_tables(node.database, node.schema)}) -%}
                {%- endif -%}
                {%- if relation is not none and node.alias | lower in existing[where] -%}
                    {%- do statements.append(shoplens_empty_table(relation.include(database=false))) -%}
                    {%- do emptied.append(node.alias) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set as_of = adapter.get_relation(
        database=target.database, schema=target.schema, identifier='as_of') -%}
    {%- set changes = [
        ['finished_at', 'cast(now() as timestamp)'],
        ['status', "'failed'" if failed else "'success'"],
        ['n_failed', failed | length],
        ['failed_nodes', shoplens_sql_string(failed | join(', ')) if failed else 'null'],
        ['emptied_tables', shoplens_sql_string(emptied | join(', ')) if emptied else 'null'],
    ] -%}
    {%- if as_of is not none -%}
        {%- do changes.append(['as_of_date', 'coalesce((select max(as_of_date) from '
            ~ as_of.include(database=false) ~ '), as_of_date)']) -%}
    {%- endif -%}
    {%- do statements.extend(shoplens_update_rows(log_table, changes,
        'invocation_id = ' ~ shoplens_invocation_id(log_table, 'end'))) -%}
    {%- if emptied -%}
        {%- do log('shoplens: emptied ' ~ emptied | length ~ ' table(s) this build did not '
            ~ 'rebuild, so no stale rows stay beside new ones: ' ~ emptied | join(', '),
            info=true) -%}
    {%- endif -%}
    {{ return(shoplens_run_statements(statements)) }}
{% endmacro %}


{#- shoplens_existing_tables(database, schema): the lower-case names of the
    tables in `database`.`schema` as the catalog lists them now (Spark: the
    schema's). -#}
{% macro shoplens_existing_tables(database, schema) %}
    {%- if target.type == 'spark' -%}
        {%- set names = run_query('show tables in ' ~ schema).columns['tableName'].values() -%}
    {%- else -%}
        {%- set names = run_query("select table_name from information_schema.tables where table_schema = '"
            ~ schema ~ "' and table_catalog = " ~ ("'" ~ database ~ "'" if database else 'current_database()')
            ~ " and table_type = 'BASE TABLE'").columns[0].values() -%}
    {%- endif -%}
    {{ return(names | map('lower') | list) }}
{% endmacro %}


{#- The build log table (DuckDB: with its primary key; Spark: Parquet). -#}
{% macro shoplens_build_log_ddl(log_table) %}
    {%- set columns = 'invocation_id varchar primary key, command varchar, selection varchar, '
        ~ 'started_at timestamp, finished_at timestamp, status varchar, '
        ~ 'as_of_date date, n_failed integer, failed_nodes varchar, '
        ~ 'emptied_tables varchar, dbt_version varchar' -%}
    {%- if target.type == 'spark' -%}
        {{ return('create table if not exists ' ~ log_table ~ ' ('
            ~ columns | replace(' primary key', '') | replace('varchar', 'string')
            ~ ') using parquet') }}
    {%- endif -%}
    {{ return('create table if not exists ' ~ log_table ~ ' (' ~ columns ~ ')') }}
{% endmacro %}


{#- shoplens_update_rows(table, changes, where): the statements that set
    the [column, expression] `changes` on the rows matching `where`. Spark's
    file tables have no UPDATE: the table is rewritten through a copy. -#}
{% macro shoplens_update_rows(table, changes, where) %}
    {%- if target.type != 'spark' -%}
        {%- set sets = [] -%}
        {%- for column, expr in changes -%}
            {%- do sets.append(column ~ ' = ' ~ expr) -%}
        {%- endfor -%}
        {{ return(['update ' ~ table ~ ' set ' ~ sets | join(', ') ~ ' where ' ~ where]) }}
    {%- endif -%}
    {%- set changed = {} -%}
    {%- for column, expr in changes -%}{%- do changed.update({column: expr | string}) -%}{%- endfor -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(api.Relation.create(
        schema=table.split('.')[0], identifier=table.split('.')[1])) -%}
        {%- if column.name in changed -%}
            {%- do columns.append('case when ' ~ where ~ ' then ' ~ changed[column.name]
                ~ ' else ' ~ column.name ~ ' end as ' ~ column.name) -%}
        {%- else -%}
            {%- do columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return([
        'drop table if exists ' ~ table ~ '__next',
        'create table ' ~ table ~ '__next using parquet as select ' ~ columns | join(', ')
            ~ ' from ' ~ table,
        'insert overwrite table ' ~ table ~ ' select * from ' ~ table ~ '__next',
        'drop table ' ~ table ~ '__next',
    ]) }}
{% endmacro %}


{#- The node selection of this invocation, as text ('' for everything). -#}
{% macro shoplens_selection() %}
    {%- set parts = [] -%}
    {%- for key in ['select', 'exclude', 'selector'] -%}
        {%- set value = invocation_args_dict.get(key) -%}
        {%- if value -%}
            {%- do parts.append('--' ~ key ~ ' ' ~ (value | join(' ')
                if value is not string else value)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(parts | join(' ')) }}
{% endmacro %}


{#- The invocation's id as SQL: dbt's invocation_id. SQLMesh has none: its
    before_all row gets a new uuid, and its after_all updates the latest row
    still running. -#}
{% macro shoplens_invocation_id(log_table, phase) %}
    {%- if invocation_id -%}
        {{ return(shoplens_sql_string(invocation_id)) }}
    {%- elif phase == 'start' -%}
        {{ return("'sqlmesh-' || uuid()") }}
    {%- endif -%}
    {{ return('(select invocation_id from ' ~ log_table ~ " where status = 'running'"
        ~ ' order by started_at desc limit 1)') }}
{% endmacro %}
