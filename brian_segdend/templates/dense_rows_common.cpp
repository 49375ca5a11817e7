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
