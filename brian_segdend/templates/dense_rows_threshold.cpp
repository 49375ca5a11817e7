{# Event conditions of this package's groups (brian_segdend.codegen): Brian's threshold template with
   two changes, neither of which changes which neurons have the event. The loop stores each index and
   advances the count by the condition, without a branch (spikes are random, so a branch is
   mispredicted often; the slots past the count are never read). A condition whose top-level
   conjuncts include per-step (scalar) terms, such as ``plastic == 1 and step == T_f + T_t - 1 and
   pbar_f != 0`` or ``recording == 1 and recorded == 1``, tests those first and skips the loop over
   neurons on the steps where they are false (all but one step per example, every step of an
   unrecorded run). Conditions with ``||`` test nothing first; refractoriness keeps Brian's code. #}
{# USES_VARIABLES { N } #}
{% extends 'threshold.cpp' %}

{% block maincode %}
    {% if _uses_refractory %}
    {{ super() }}
    {% else %}
    {% set _ns = namespace(scalars=[], guards=[]) %}
    {% for _line in scalar_code if '=' in _line %}
    {% set _ns.scalars = _ns.scalars + [_line.split('=')[0].split()[-1]] %}
    {% endfor %}
    {% for _line in vector_code if _line.strip().startswith('const char _cond = ') and '||' not in _line %}
    {% set _ns.guards = _line.strip()[19:].rstrip(';').split('&&')|map('trim')|select('in', _ns.scalars)|list %}
    {% endfor %}
    {% set _eventspace = get_array_name(eventspace_variable) %}
    // scalar code
    const int _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    long _count = 0;
    if({{_ns.guards|join(' && ') if _ns.guards else 'true'}})
    {
        for(size_t _idx=0; _idx<N; _idx++)
        {
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
            {{_eventspace}}[_count] = _idx;
            _count += (_cond != 0);
        }
    }
    {{_eventspace}}[N] = _count;
    {% endif %}
{% endblock %}
