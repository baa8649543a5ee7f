using CalRec.Models.Generation;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Text.Retrieval;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.Grounding;

/// <summary>One generated next-item text.</summary>
/// <param name="Text">The decoded text.</param>
/// <param name="LogProb">Its log-probability under the model.</param>
public sealed record GeneratedText(string Text, double LogProb);

/// <summary>A recommended item and the grounding paths whose lists contain it.</summary>
/// <param name="Item">Catalogue index.</param>
/// <param name="Score">Score under the chosen path.</param>
/// <param name="FoundBy">Paths whose list holds the item.</param>
public sealed record ExplainedItem(int Item, float Score, IReadOnlyList<GroundingPath> FoundBy);

/// <summary>What every path produced for one history.</summary>
/// <param name="Generated">The generated texts, best first.</param>
/// <param name="Lists">Each computed path's list of item indices, best first.</param>
/// <param name="Top">The chosen path's top items.</param>
public sealed record GroundingExplanation(IReadOnlyList<GeneratedText> Generated, IReadOnlyDictionary<GroundingPath, IReadOnlyList<int>> Lists, IReadOnlyList<ExplainedItem> Top);

/// <summary>
/// Ranks the catalogue for histories with a trained CALRec model along one grounding path (dense retrieval, BM25
/// quasi-round-robin over N generated texts, BIGRec embedding grounding with optional popularity re-weighting,
/// trie-constrained generation, or their weighted reciprocal-rank fusion). Items outside a path's list rank below every
/// listed item (fusion falls back to the dense order). Deterministic: beam search, or sampling seeded from the options'
/// seed and the history. Not thread-safe.
/// </summary>
public sealed class GroundedScorer : IRecommenderScorer
{
    private readonly CalRecModel _model;
    private readonly ItemTextTable _table;
    private readonly float[]? _popularity;
    private readonly CollaborativeScores? _collaborative;
    private readonly Models.Decoder.DecoderLM _embedder;
    private readonly Models.Embeddings.Pooling _embeddingPooling;
    private float[]? _itemVectors;
    private TokenTrie? _trie;

    internal GroundedScorer(CalRecModel model, GroundingOptions options, Bm25Index? index = null, float[]? popularity = null, RecommenderModel? collaborative = null,
        Models.Decoder.DecoderLM? embeddingBackbone = null)
    {
        options.Validate();
        if (popularity is not null && popularity.Length != model.ItemCount)
        {
            throw new ArgumentException($"Popularity has {popularity.Length} counts for {model.ItemCount} items.");
        }

        _model = model;
        Options = options = options.Clone();
        _table = model.Towers.Table;
        if (collaborative is not null)
        {
            options.Signal = ReweightingSignal.Collaborative;
            _collaborative = new CollaborativeScores(collaborative, model.Catalog);
        }
        else if (options.Signal == ReweightingSignal.Popularity)
        {
            _popularity = popularity ?? model.Towers.Popularity;
        }

        if (options.Gamma > 0 && !HasSignal)
        {
            throw new ArgumentException(options.Signal == ReweightingSignal.Collaborative
                ? $"γ = {options.Gamma} was chosen for re-weighting by a collaborative model's scores: pass that model (CLI: --collaborative MODEL.zip), or set γ to 0."
                : "Popularity re-weighting (Gamma > 0) needs the model's training popularity, which this model does not carry.");
        }

        if (embeddingBackbone is not null && embeddingBackbone.Config.VocabSize != model.Backbone.Config.VocabSize)
        {
            throw new ArgumentException($"The embedding backbone has a vocabulary of {embeddingBackbone.Config.VocabSize} ids, the model's tokenizer {model.Backbone.Config.VocabSize}: "
                + "embedding grounding needs a backbone of the same tokenizer (for example the model's stage-0 backbone).");
        }

        _embedder = embeddingBackbone ?? model.Backbone;
        _embeddingPooling = options.EmbeddingPooling ?? model.Settings.Pooling;

        if (index is null && model.Bm25 is { } saved && saved.K1 == options.Bm25K1 && saved.B == options.Bm25B)
        {
            index = saved;
        }

        Index = index ?? BuildIndex(model, options);
        model.Bm25 ??= Index;
    }

    /// <summary>The settings (a copy of those given; <see cref="GroundingOptions.Signal"/> says which signal re-weights).</summary>
    public GroundingOptions Options { get; }

    /// <summary>
    /// The L2-normalized item vectors embedding grounding compares against: the saved item index when the backbone and
    /// pooling are the model's own, otherwise every item text encoded once with them.
    /// </summary>
    internal ReadOnlySpan<float> ItemVectors => ReferenceEquals(_embedder, _model.Backbone) && _embeddingPooling == _model.Settings.Pooling
        ? _model.Towers.ItemEmbeddings
        : _itemVectors ??= CalRecScorer.EncodeCatalogue(_embedder, _table, _embeddingPooling);

    /// <summary>Whether a re-weighting signal (popularity counts or a collaborative model) is available.</summary>
    public bool HasSignal => _popularity is not null || _collaborative is not null;

    /// <summary>The BM25 index over the catalogue's item texts.</summary>
    public Bm25Index Index { get; }

    /// <inheritdoc />
    public int ItemCount => _model.ItemCount;

    /// <summary>A BM25 index over the item texts the model's template renders.</summary>
    internal static Bm25Index BuildIndex(CalRecModel model, GroundingOptions options)
    {
        var index = new Bm25Index(options.Bm25K1, options.Bm25B);
        index.AddRange(model.Catalog.Select(i => ItemTextTable.Render(i, model.Settings.Template)));
        return index;
    }

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        int n = ItemCount;
        float[] dense = new float[n];
        for (int u = 0; u < histories.Count; u++)
        {
            Span<float> row = scores.Slice(u * n, n);
            Compute(histories[u], row, dense, explain: null);
        }
    }

    /// <summary>The generated texts, every computed list and the chosen path's top <paramref name="k"/> items for a history.</summary>
    public GroundingExplanation Explain(int[] history, int k = 10)
    {
        int n = ItemCount;
        float[] scores = new float[n], dense = new float[n];
        var lists = new Dictionary<GroundingPath, IReadOnlyList<int>>();
        var generated = Compute(history, scores, dense, lists);
        var seen = history.ToHashSet();
        var top = TopK.Select(scores, k, seen).Select(i => new ExplainedItem(i, scores[i], lists.Where(l => l.Value.Contains(i)).Select(l => l.Key).ToList())).ToList();
        return new GroundingExplanation(generated, lists, top);
    }

    private List<GeneratedText> Compute(int[] history, Span<float> scores, float[] dense, Dictionary<GroundingPath, IReadOnlyList<int>>? explain)
    {
        GroundingOptions o = Options;
        int n = ItemCount, listLength = Math.Min(o.ListLength, n);
        var seen = history.ToHashSet();
        var lists = explain ?? new Dictionary<GroundingPath, IReadOnlyList<int>>();
        bool fusion = o.Path == GroundingPath.Fusion;
        bool Need(GroundingPath p) => o.Path == p || (fusion && o.FusionWeights.GetValueOrDefault(p) != 0) || (explain is not null && p != GroundingPath.Constrained);

        _model.Score([history], dense);
        if (Need(GroundingPath.Dense))
        {
            lists[GroundingPath.Dense] = TopK.Select(dense, listLength, seen);
        }

        int[] prompt = Prompt(history);
        List<GeneratedSequence> generated = Need(GroundingPath.Bm25) || Need(GroundingPath.Embedding) ? Generate(prompt, history) : [];
        if (Need(GroundingPath.Bm25))
        {
            lists[GroundingPath.Bm25] = Bm25List(generated, seen, listLength);
        }

        float[]? embeddingScores = null;
        if (Need(GroundingPath.Embedding))
        {
            embeddingScores = EmbeddingScores(history, generated);
            lists[GroundingPath.Embedding] = TopK.Select(embeddingScores, listLength, seen);
        }

        if (Need(GroundingPath.Constrained) || (explain is not null && o.Path == GroundingPath.Constrained))
        {
            lists[GroundingPath.Constrained] = Constrained(prompt, seen, listLength);
        }

        switch (o.Path)
        {
            case GroundingPath.Dense:
                dense.CopyTo(scores);
                break;
            case GroundingPath.Embedding:
                embeddingScores!.CopyTo(scores);
                break;
            case GroundingPath.Bm25:
            case GroundingPath.Constrained:
                FromList(lists[o.Path], scores);
                break;
            default:
                var weighted = o.FusionWeights.Where(w => w.Value != 0 && lists.ContainsKey(w.Key)).Select(w => (lists[w.Key], w.Value)).ToList();
                List<(int Item, double Score)> fused = RankFusion.Reciprocal(weighted, listLength);
                for (int i = 0; i < n; i++)
                {
                    scores[i] = dense[i] - 10f;
                }

                foreach ((int item, double score) in fused)
                {
                    scores[item] = 10f + (float)score;
                }

                break;
        }

        return generated.Select(g => new GeneratedText(g.Text, g.LogProb)).ToList();
    }

    private int[] Prompt(int[] history)
    {
        CalRecSettings s = _model.Settings;
        ReadOnlySpan<int> fitted = _table.Fit(history, s.MaxHistory, s.MaxHistoryTokens - s.MaxItemTokens - 1);
        var prompt = new List<int>();
        foreach (int item in fitted)
        {
            prompt.AddRange(_table.Tokens(item));
            prompt.Add(_table.Separator);
        }

        return [.. prompt];
    }

    private List<GeneratedSequence> Generate(int[] prompt, int[] history)
    {
        GroundingOptions o = Options;
        var options = new GenerationOptions
        {
            Strategy = o.Sampling ? DecodingStrategy.Sampling : DecodingStrategy.BeamSearch,
            NumBeams = Math.Max(o.Candidates, 2),
            NumReturnSequences = o.Candidates,
            Temperature = o.SamplingTemperature,
            MaxNewTokens = _model.Settings.MaxItemTokens + 1,
            StopTokenIds = [_table.Separator, _model.Backbone.Config.EosTokenId ?? _table.Separator],
            Seed = o.Seed ^ HistoryHash(history),
        };
        using (_model.Backbone.EvalScope())
        {
            using var step = new DecoderStepModel(_model.Backbone, useKvCache: true, maxTokens: prompt.Length + options.MaxNewTokens + 1);
            using Tape.NoGradScope noGrad = Tape.no_grad();
            var generator = new SequenceGenerator(step, ids => _model.Tokenizer.Decode(ids, skipSpecialTokens: true));
            return generator.Generate([prompt], options)[0].Where(g => g.TokenIds.Length > 0).OrderByDescending(g => g.LogProb).ToList();
        }
    }

    private List<int> Bm25List(List<GeneratedSequence> generated, HashSet<int> seen, int listLength)
    {
        int[] docs = new int[listLength + seen.Count];
        float[] found = new float[docs.Length];
        var lists = new List<IReadOnlyList<int>>(generated.Count);
        foreach (GeneratedSequence g in generated)
        {
            int hits = Index.Search(g.Text, docs, found);
            lists.Add(docs[..hits]);
        }

        return RankFusion.QuasiRoundRobin(lists, listLength, seen);
    }

    /// <summary>Per item: −(re-weighted) distance to the closest generated text; higher is better.</summary>
    private float[] EmbeddingScores(int[] history, List<GeneratedSequence> generated) =>
        Reweighted(RawDistances(generated), Options.Gamma, Options.Gamma > 0 ? Signal(history) : null);

    /// <summary>The re-weighting signal C for one history (null without one).</summary>
    internal float[]? Signal(int[] history)
    {
        if (_collaborative is null)
        {
            return _popularity;
        }

        float[] c = new float[ItemCount];
        _collaborative.Fill(history, c);
        return c;
    }

    /// <summary>−D' (higher is better) from raw distances, re-weighted by <paramref name="signal"/> with <paramref name="gamma"/>.</summary>
    internal static float[] Reweighted(float[] raw, float gamma, float[]? signal)
    {
        float[] result = (float[])raw.Clone();
        if (gamma > 0 && signal is not null)
        {
            PopularityReweighting.Apply(raw, signal, gamma, result);
        }

        for (int i = 0; i < result.Length; i++)
        {
            result[i] = -result[i];
        }

        return result;
    }

    /// <summary>Per item, the distance of its embedding to the closest generated text's.</summary>
    private float[] RawDistances(List<GeneratedSequence> generated)
    {
        int n = ItemCount, d = _embedder.Config.HiddenSize;
        float[] distance = new float[n];
        Array.Fill(distance, float.PositiveInfinity);
        if (generated.Count > 0)
        {
            float[] vectors;
            using (_embedder.EvalScope())
            {
                using TensorScope scope = TensorScope.Begin();
                using Tape.NoGradScope noGrad = Tape.no_grad();
                var texts = generated.Select(g => g.TokenIds.Take(_model.Settings.MaxItemTokens).ToArray()).ToList();
                vectors = F.l2_normalize(TwoTowerEncoder.EncodeTokens(_embedder, texts, _table, _embeddingPooling)).Data.ToArray();
            }

            ReadOnlySpan<float> items = ItemVectors;
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> item = items.Slice(i * d, d);
                for (int g = 0; g < generated.Count; g++)
                {
                    float cos = System.Numerics.Tensors.TensorPrimitives.Dot(item, vectors.AsSpan(g * d, d));
                    float dist = Options.Distance == GroundingDistance.Cosine ? 1f - cos : MathF.Sqrt(MathF.Max(0f, 2f - (2f * cos)));
                    distance[i] = Math.Min(distance[i], dist);
                }
            }
        }
        else
        {
            Array.Fill(distance, 1f);
        }

        return distance;
    }

    /// <summary>
    /// What validation-time tuning needs for one history: the dense, BM25 and constrained-generation lists and the raw
    /// embedding distances.
    /// </summary>
    internal (List<int> Dense, List<int> Bm25, List<int> Constrained, float[] Distances) Parts(int[] history)
    {
        var seen = history.ToHashSet();
        int listLength = Math.Min(Options.ListLength, ItemCount);
        float[] dense = new float[ItemCount];
        _model.Score([history], dense);
        int[] prompt = Prompt(history);
        List<GeneratedSequence> generated = Generate(prompt, history);
        return (TopK.Select(dense, listLength, seen), Bm25List(generated, seen, listLength), Constrained(prompt, seen, listLength), RawDistances(generated));
    }

    private List<int> Constrained(int[] prompt, HashSet<int> seen, int listLength)
    {
        _trie ??= new TokenTrie(Enumerable.Range(0, ItemCount).Select(i => (IReadOnlyList<int>)_table.Tokens(i)));
        int beams = Math.Max(Options.ConstrainedBeams, 1);
        using (_model.Backbone.EvalScope())
        {
            using var step = new DecoderStepModel(_model.Backbone, useKvCache: true, maxTokens: prompt.Length + _trie.MaxLength + 1);
            using Tape.NoGradScope noGrad = Tape.no_grad();
            var generator = new SequenceGenerator(step, ids => string.Empty);
            return generator.GenerateConstrained(prompt, _trie, beams, beams).Select(r => r.Index).Where(i => !seen.Contains(i)).Distinct().Take(listLength).ToList();
        }
    }

    /// <summary>Listed items score above all others, in list order.</summary>
    private static void FromList(IReadOnlyList<int> list, Span<float> scores)
    {
        scores.Fill(float.MinValue);
        for (int r = 0; r < list.Count; r++)
        {
            scores[list[r]] = list.Count - r;
        }
    }

    private static ulong HistoryHash(int[] history)
    {
        ulong h = 14695981039346656037UL;
        foreach (int i in history)
        {
            h = (h ^ (uint)i) * 1099511628211UL;
        }

        return h;
    }
}
