using CalRec.Models.Generation;
using CalRec.Recommenders.CalRec;
using CalRec.Tensors.Autograd;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// One history being grounded: what several paths share (the dense scores, the prompt, the generated texts, each
/// path's list), computed once on first use, so a fusion costs one generation however many paths it combines.
/// </summary>
internal sealed class GroundingQuery
{
    private readonly CalRecModel _model;
    private readonly GroundingOptions _options;
    private readonly Dictionary<GroundingPath, IReadOnlyList<int>> _lists = [];
    private float[]? _dense;
    private int[]? _prompt;
    private List<GeneratedSequence>? _generated;

    public GroundingQuery(CalRecModel model, GroundingOptions options, int[] history)
    {
        _model = model;
        _options = options;
        History = history;
        Seen = history.ToHashSet();
        ListLength = Math.Min(options.ListLength, model.ItemCount);
    }

    /// <summary>The history, oldest first.</summary>
    public int[] History { get; }

    /// <summary>Items of the history (never in a list).</summary>
    public HashSet<int> Seen { get; }

    /// <summary>How many items a path's list holds at most.</summary>
    public int ListLength { get; }

    /// <summary>The lists computed so far, by path.</summary>
    public IReadOnlyDictionary<GroundingPath, IReadOnlyList<int>> Lists => _lists;

    /// <summary>The user tower's score for every item.</summary>
    public float[] Dense
    {
        get
        {
            if (_dense is null)
            {
                _dense = new float[_model.ItemCount];
                _model.Score([History], _dense);
            }

            return _dense;
        }
    }

    /// <summary>The serialized history the decoder continues (room left for one more item).</summary>
    public int[] Prompt => _prompt ??= BuildPrompt();

    /// <summary>The generated next-item texts, best first (beam search, or sampling seeded by the options' seed and the history).</summary>
    public List<GeneratedSequence> Generated => _generated ??= Generate();

    /// <summary><paramref name="path"/>'s list for this history, computed once.</summary>
    public IReadOnlyList<int> ListOf(IGroundingPath path)
    {
        if (!_lists.TryGetValue(path.Kind, out IReadOnlyList<int>? list))
        {
            _lists[path.Kind] = list = path.List(this);
        }

        return list;
    }

    // Tokens generated per item: its text and separator, after its identity token when the model has them.
    private int NewTokens => _model.Settings.MaxItemTokens + (_model.Towers.Table.IdentityBase is null ? 1 : 2);

    private int[] BuildPrompt()
    {
        CalRecSettings s = _model.Settings;
        ItemTextTable table = _model.Towers.Table;
        ReadOnlySpan<int> fitted = table.Fit(History, s.MaxHistory, s.MaxHistoryTokens - NewTokens);
        var prompt = new List<int>();
        foreach (int item in fitted)
        {
            prompt.AddRange(table.Tokens(item));
            prompt.Add(table.Separator);
        }

        return [.. prompt];
    }

    private List<GeneratedSequence> Generate()
    {
        ItemTextTable table = _model.Towers.Table;
        var options = new GenerationOptions
        {
            Strategy = _options.Sampling ? DecodingStrategy.Sampling : DecodingStrategy.BeamSearch,
            NumBeams = Math.Max(_options.Candidates, 2),
            NumReturnSequences = _options.Candidates,
            Temperature = _options.SamplingTemperature,
            MaxNewTokens = NewTokens,
            StopTokenIds = [table.Separator, _model.Backbone.Config.EosTokenId ?? table.Separator],
            Seed = _options.Seed ^ HistoryHash(History),
        };
        using (_model.Backbone.EvalScope())
        {
            using var step = new DecoderStepModel(_model.Backbone, useKvCache: true, maxTokens: Prompt.Length + options.MaxNewTokens + 1);
            using Tape.NoGradScope noGrad = Tape.no_grad();
            // Identity tokens (the item-ID hybrid) have no text: a generated one is left out of the decoded text.
            int textIds = table.IdentityBase ?? int.MaxValue;
            var generator = new SequenceGenerator(StepsOf(step, _model), ids => _model.Tokenizer.Decode(ids.Where(id => id < textIds), skipSpecialTokens: true));
            return generator.Generate([Prompt], options)[0].Where(g => g.TokenIds.Length > 0).OrderByDescending(g => g.LogProb).ToList();
        }
    }

    /// <summary>The backbone's step model, decoding an item-ID hybrid's two vocabularies as it was trained.</summary>
    internal static IStepModel StepsOf(DecoderStepModel step, CalRecModel model) =>
        model.Towers.Table.IdentityBase is int first ? new IdentityStepModel(step, model.Towers.Table.Separator, first) : step;

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
