{# Event code of this package's groups (brian_segdend.codegen): Brian's reset template, except that
   when every neuron has the event (the per-step events: windows, example boundaries, learning) the
   loop runs over the neurons in order, without the index array, with ``#pragma GCC ivdep``, so the
   compiler vectorises it (the window sums, the errors); code that draws random numbers or calls log
   (the spike counts), and OpenMP threads, keep Brian's code. #}
{# USES_VARIABLES { N } #}
{% extends 'reset.cpp' %}
{% from 'dense_rows_common.cpp' import vector_exp %}

{% block extra_headers %}
{{ vector_exp(vector_code) }}
{% endblock %}

{% block maincode %}
    {% if vectorisable(vector_code) and not openmp_pragma('with_openmp') %}
    {% set _eventspace = get_array_name(eventspace_variable) %}
    const int32_t *_events = {{_eventspace}};
    const int32_t _num_events = {{_eventspace}}[N];

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    if(_num_events == N)
    {
        #pragma GCC ivdep
        for(int32_t _idx=0; _idx<N; _idx++)
        {
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
        }
    }
    else
    {
        for(int32_t _index_events=0; _index_events<_num_events; _index_events++)
        {
            const size_t _idx = _events[_index_events];
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
        }
    }
    {% else %}
    {{ super() }}
    {% endif %}
{% endblock %}
