using CalRec.Models.Generation;
using CalRec.Recommenders.CalRec;
using CalRec.Tensors.Autograd;

namespace CalRec.Recommenders.Grounding;

/// <summary>Trie-constrained beam search over the item texts' tokens: only real items come out.</summary>
internal sealed class ConstrainedPath(CalRecModel model, int beams) : IGroundingPath
{
    private TokenTrie? _trie;

    public GroundingPath Kind => GroundingPath.Constrained;

    public IReadOnlyList<int> List(GroundingQuery query)
    {
        ItemTextTable table = model.Towers.Table;
        _trie ??= new TokenTrie(Enumerable.Range(0, model.ItemCount).Select(i => (IReadOnlyList<int>)table.Tokens(i)));
        int width = Math.Max(beams, 1);
        int[] prompt = query.Prompt;
        using (model.Backbone.EvalScope())
        {
            using var step = new DecoderStepModel(model.Backbone, useKvCache: true, maxTokens: prompt.Length + _trie.MaxLength + 1);
            using Tape.NoGradScope noGrad = Tape.no_grad();
            var generator = new SequenceGenerator(GroundingQuery.StepsOf(step, model), ids => string.Empty);
            return generator.GenerateConstrained(prompt, _trie, width, width).Select(r => r.Index).Where(i => !query.Seen.Contains(i)).Distinct().Take(query.ListLength).ToList();
        }
    }

    public void Score(GroundingQuery query, Span<float> scores) => ListScores.Fill(query.ListOf(this), scores);
}
