{# Per-neuron operations (run_regularly) of this package's groups (brian_segdend.codegen): Brian's
   stateupdate template with ``#pragma GCC ivdep`` on the loop over neurons, which touches each
   neuron's own entries only, so the compiler vectorises the ring shifts, kernel sums and window sums
   (without it, it cannot rule out aliasing between the dozens of arrays such a loop reads and
   writes). Loops that call exp, log or a random draw keep Brian's plain loop: vectorised math
   functions (libmvec) round differently from the scalar ones, and draws have a state. With OpenMP
   threads the loop is Brian's parallel one. #}
{# USES_VARIABLES { N } #}
{# ALLOWS_SCALAR_WRITE #}
{% extends 'common_group.cpp' %}

{% block maincode %}
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    const int _N = {{constant_or_scalar('N', variables['N'])}};
    {% set _code = vector_code|join('\n') %}
    {% if openmp_pragma('with_openmp') %}
    {{openmp_pragma('parallel-static')}}
    {% elif not ('exp(' in _code or 'log(' in _code or 'rand' in _code or 'poisson(' in _code) %}
    #pragma GCC ivdep
    {% endif %}
    for(int _idx=0; _idx<_N; _idx++)
    {
        // vector code
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
    }
{% endblock %}
