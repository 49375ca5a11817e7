{# Per-neuron operations (run_regularly) of this package's groups (brian_segdend.codegen): Brian's
   stateupdate template with two changes.
   * Code that only moves rings one step back (``D_9 = D_8 ... D_1 = D_0``, ``D_0 = 0``: the input
     memories and past counts of the truncated kernel) swaps the arrays' pointers instead of moving
     every value, and zeroes the array that becomes the newest (the oldest one's). Each name then
     holds exactly the values the moves would have given it; every code object reads the pointers
     when it runs.
   * The loop over neurons carries ``#pragma GCC ivdep`` (each neuron touches only its own entries),
     so the compiler vectorises the kernel sums and window sums (without it, it cannot rule out
     aliasing between the dozens of arrays such a loop reads and writes). Loops that call exp (the
     rates) use glibc's vector exp; loops that draw random numbers or call log keep Brian's plain loop
     (``vectorisable`` in codegen.py).
   With OpenMP threads both are Brian's code. Per-synapse operations count as writes of the synaptic
   variables (codegen.writes_counter). #}
{# USES_VARIABLES { N } #}
{# ALLOWS_SCALAR_WRITE #}
{% extends 'common_group.cpp' %}
{% from 'dense_rows_common.cpp' import vector_exp, writes_counter_definition %}

{% block extra_headers %}
{{ vector_exp(vector_code) }}
{% if writes_counter(owner) %}
{{ writes_counter_definition(owner) }}
{% endif %}
{% endblock %}

{% block maincode %}
    {% if writes_counter(owner) %}
    ++{{writes_counter(owner)}}();
    {% endif %}
    {# the rings of a code that only moves rings: lists of names, oldest first, each ending in
       ``X = 0``; the loads and stores of Brian's loop around the moves are left out #}
    {% set _ring = namespace(rings=[], current=[], expected='', valid=not (scalar_code|join('')).strip() and not openmp_pragma('with_openmp')) %}
    {% for _line in vector_code %}
    {% set _statement = _line.strip().rstrip(';') %}
    {% if _statement.startswith('_ptr_array_') or ' = _ptr_array_' in _statement or _statement.split()|length == 2 %}
    {% else %}
    {% set _sides = _statement.split(' = ') %}
    {% set _target = _sides[0].strip() %}
    {% set _value = _sides[-1].strip() %}
    {% if _sides|length != 2 or _target not in variables or (_ring.expected and _target != _ring.expected) %}
    {% set _ring.valid = False %}
    {% endif %}
    {% set _ring.current = _ring.current + [_target] %}
    {% if _value == '0' %}
    {% set _ring.rings = _ring.rings + [_ring.current] %}
    {% set _ring.current = [] %}
    {% set _ring.expected = '' %}
    {% else %}
    {% set _ring.expected = _value %}
    {% endif %}
    {% endif %}
    {% endfor %}
    const int _N = {{constant_or_scalar('N', variables['N'])}};
    {% if _ring.valid and _ring.rings and not _ring.current and _ring.rings|map('length')|min > 1 %}
    {% for _names in _ring.rings %}
    {
        auto* const _newest = {{get_array_name(variables[_names[0]], access_data=False)}};
        {% for _k in range(_names|length - 1) %}
        {{get_array_name(variables[_names[_k]], access_data=False)}} = {{get_array_name(variables[_names[_k + 1]], access_data=False)}};
        {% endfor %}
        {{get_array_name(variables[_names[-1]], access_data=False)}} = _newest;
        for(int _idx=0; _idx<_N; _idx++)
            _newest[_idx] = 0;
    }
    {% endfor %}
    {% else %}
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {% if openmp_pragma('with_openmp') %}
    {{openmp_pragma('parallel-static')}}
    {% elif vectorisable(vector_code) %}
    #pragma GCC ivdep
    {% endif %}
    for(int _idx=0; _idx<_N; _idx++)
    {
        // vector code
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
    }
    {% endif %}
{% endblock %}
