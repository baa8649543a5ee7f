using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Generation;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Models.Tests;

[TestFixture]
public class GenerationTests
{
    private static IEnumerable<DecoderConfig> Configs() => [DecoderTests.Llama, DecoderTests.Qwen2, DecoderTests.Gpt2];

    [TestCaseSource(nameof(Configs))]
    public void KvCacheLogitsEqualFullForwardForLeftPaddedBatches(DecoderConfig config)
    {
        var model = new DecoderLM(config, seed: 11);
        int[][] prompts = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]];
        int[][] steps = [[11, 12, 13], [14, 15, 16], [17, 18, 19], [20, 21, 22]];
        using var cached = new DecoderStepModel(model, useKvCache: true);
        using var full = new DecoderStepModel(model, useKvCache: false);
        AssertClose(cached.Start(prompts), full.Start(prompts));
        foreach (int[] tokens in steps)
        {
            AssertClose(cached.Step(tokens), full.Step(tokens));
        }

        // And each padded row equals the same sequence run alone without padding.
        float[] last = full.Step([30, 31, 32]);
        int v = config.VocabSize;
        int[] alone = [.. prompts[1], .. steps.Select(s => s[1]), 31];
        AssertClose(last.AsSpan(v, v).ToArray(), LastLogits(model, alone));
    }

    [Test]
    public void KvCacheReorderFollowsBeams()
    {
        var model = new DecoderLM(DecoderTests.Llama, seed: 2);
        using var cached = new DecoderStepModel(model, useKvCache: true);
        using var full = new DecoderStepModel(model, useKvCache: false);
        cached.Start([[1, 2, 3], [4, 5, 6]]);
        full.Start([[1, 2, 3], [4, 5, 6]]);
        cached.Step([7, 8]);
        full.Step([7, 8]);
        cached.Reorder([1, 1, 0]);
        full.Reorder([1, 1, 0]);
        AssertClose(cached.Step([9, 10, 11]), full.Step([9, 10, 11]));
    }

    /// <summary>Vocabulary {0: A, 1: B, 2: end}. Greedy takes A (0.6) then ends (0.4): 0.24. Beam search finds B then end: 0.4·0.9 = 0.36.</summary>
    private sealed class ToyModel : IStepModel
    {
        private List<List<int>> _rows = [];

        public int VocabularySize => 3;

        public float[] Start(IReadOnlyList<int[]> prompts)
        {
            _rows = prompts.Select(_ => new List<int>()).ToList();
            return Logits();
        }

        public float[] Step(int[] tokens)
        {
            for (int i = 0; i < tokens.Length; i++)
            {
                _rows[i].Add(tokens[i]);
            }

            return Logits();
        }

        public void Reorder(IReadOnlyList<int> sources) => _rows = sources.Select(s => new List<int>(_rows[s])).ToList();

        private float[] Logits() => _rows.SelectMany(r => Distribution(r).Select(p => MathF.Log(p))).ToArray();

        private static float[] Distribution(List<int> prefix) => prefix switch
        {
            [] => [0.6f, 0.4f, 1e-9f],
            [0] => [0.3f, 0.3f, 0.4f],
            [1] => [0.05f, 0.05f, 0.9f],
            _ => [0.1f, 0.1f, 0.8f],
        };
    }

    [Test]
    public void BeamSearchFindsTheBestSequenceGreedyMisses()
    {
        var gen = new SequenceGenerator(new ToyModel(), ids => string.Concat(ids.Select(i => "AB!"[i])));
        var options = new GenerationOptions { StopTokenIds = [2], MaxNewTokens = 5, LengthPenalty = 0f };
        GeneratedSequence greedy = gen.Generate([[0]], options)[0][0];
        Assert.That(greedy.Text, Is.EqualTo("A"));
        Assert.That(greedy.LogProb, Is.EqualTo(Math.Log(0.6)).Within(1e-5), "log-prob covers the generated tokens");

        IReadOnlyList<GeneratedSequence> beams = gen.Generate([[0]], options with { Strategy = DecodingStrategy.BeamSearch, NumBeams = 2, NumReturnSequences = 2 })[0];
        Assert.That(beams[0].Text, Is.EqualTo("B"));
        Assert.That(beams[0].LogProb, Is.EqualTo(Math.Log(0.4 * 0.9)).Within(1e-5));
        Assert.That(beams[1].Text, Is.EqualTo("A"));
    }

    [Test]
    public void ConstrainedDecodingOnlyReturnsAllowedSequencesWithTheirTrueLogProbs()
    {
        var model = new DecoderLM(DecoderTests.Gpt2, seed: 8);
        var g = new Tensors.SeededRandom(5);
        var allowed = Enumerable.Range(0, 40).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, 1 + g.NextInt(5)).Select(_ => 1 + g.NextInt(20)).ToList()).ToList();
        var trie = new TokenTrie(allowed);
        using var step = new DecoderStepModel(model);
        var gen = new SequenceGenerator(step, ids => string.Join(" ", ids));
        int[] prompt = [3, 1, 4];
        IReadOnlyList<(int Index, double LogProb)> results = gen.GenerateConstrained(prompt, trie, numBeams: 8, count: 10);
        Assert.That(results, Has.Count.EqualTo(10));
        Assert.That(results.Select(r => r.LogProb), Is.Ordered.Descending);
        foreach ((int index, double lp) in results)
        {
            Assert.That(index, Is.InRange(0, allowed.Count - 1));
            Assert.That(lp, Is.EqualTo(SequenceLogProb(model, prompt, allowed[index])).Within(1e-3), "score = teacher-forced log-probability");
        }
    }

    [Test]
    public void SamplingIsSeededAndTopKOneIsGreedy()
    {
        var model = new DecoderLM(DecoderTests.Llama, seed: 3);
        var gen = new SequenceGenerator(new DecoderStepModel(model), ids => string.Join(" ", ids));
        var sample = new GenerationOptions { Strategy = DecodingStrategy.Sampling, MaxNewTokens = 8, Temperature = 1.5f, TopP = 0.9f, Seed = 42, NumReturnSequences = 3 };
        var a = gen.Generate([[1, 2]], sample)[0];
        var b = gen.Generate([[1, 2]], sample)[0];
        Assert.That(a.Select(s => s.Text), Is.EqualTo(b.Select(s => s.Text)));
        Assert.That(a.Select(s => s.Text).Distinct().Count(), Is.GreaterThan(1), "three draws at temperature 1.5 differ");
        var topOne = gen.Generate([[1, 2]], sample with { TopK = 1, NumReturnSequences = 1 })[0][0];
        var greedy = gen.Generate([[1, 2]], new GenerationOptions { MaxNewTokens = 8 })[0][0];
        Assert.That(topOne.TokenIds, Is.EqualTo(greedy.TokenIds));
    }

    [Test]
    public void StopSequenceCutsTheText()
    {
        var gen = new SequenceGenerator(new ToyModel(), ids => string.Concat(ids.Select(i => "AB!"[i])));
        GeneratedSequence s = gen.Generate([[0]], new GenerationOptions { MaxNewTokens = 4, StopSequences = ["A"] })[0][0];
        Assert.That(s.TokenIds, Is.EqualTo(new[] { 0 }));
        Assert.That(s.Text, Is.Empty);
    }

    private static double SequenceLogProb(DecoderLM model, int[] prompt, IReadOnlyList<int> continuation)
    {
        int[] ids = [.. prompt, .. continuation];
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        float[] logits = model.Logits(model.Hidden(ids, 1, ids.Length)).ToArray();
        int v = model.Config.VocabSize;
        double total = 0;
        for (int i = 0; i < continuation.Count; i++)
        {
            int pos = prompt.Length - 1 + i;
            total += logits[(pos * v) + continuation[i]] - Functional.LogSumExp(logits.AsSpan(pos * v, v));
        }

        return total;
    }

    private static float[] LastLogits(DecoderLM model, int[] ids)
    {
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        float[] all = model.Logits(model.Hidden(ids, 1, ids.Length)).ToArray();
        return all[^model.Config.VocabSize..];
    }

    private static void AssertClose(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double max = actual.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        Assert.That(max, Is.LessThan(1e-4), $"max |diff| {max:E2}");
    }
}
