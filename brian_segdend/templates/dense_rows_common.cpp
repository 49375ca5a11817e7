{# Macros of the dense-row templates (brian_segdend.codegen). #}

{# The loop over row ``_pre`` of an all-to-all Synapses connected in presynaptic order (synapse
   i*n_post + j joins i and j): Brian's per-synapse code with the row position in place of the index
   arrays, then the caller's body for each synapse. #}
{% macro row_loop(vector_code, owner, n_post) %}
const size_t _row = (size_t)_pre*{{n_post}};
#pragma GCC ivdep
for(int32_t _post = 0; _post < {{n_post}}; _post++)
{
    const size_t _idx = _row + _post;
    const size_t _vectorisation_idx = _idx;
    {{vector_code|map('replace', '_ptr_array_' + owner.name + '__synaptic_post[_idx]', '_post')
                 |map('replace', '_ptr_array_' + owner.name + '__synaptic_pre[_idx]', '_pre')
                 |list|autoindent}}
    {{caller()}}
}
{% endmacro %}

{# glibc's vector exp (libmvec, within 4 ulp of the scalar exp) for vectorised per-neuron loops that
   call exp (the rates, the plateau potentials), where GCC and glibc on x86-64 provide it: Brian
   compiles with -fno-finite-math-only, under which glibc's headers do not declare it. #}
{% macro vector_exp(vector_code) %}
{% if vectorisable(vector_code) and 'exp(' in vector_code|join('\n') %}
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
extern "C" {
__attribute__((__simd__("notinbranch"))) double exp(double) noexcept(true);
__attribute__((__simd__("notinbranch"))) float expf(float) noexcept(true);
}
#endif
{% endif %}
{% endmacro %}

{# The count of the runs of code that may write the synaptic variables of ``group`` (codegen.writes_counter):
   one definition in every file that uses it, shared by all (an inline function's static). #}
{% macro writes_counter_definition(group) %}
inline unsigned long& {{writes_counter(group)}}() { static unsigned long _count = 0; return _count; }
{% endmacro %}
