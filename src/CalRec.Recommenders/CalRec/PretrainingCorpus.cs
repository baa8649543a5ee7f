using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The documents a decoder is pretrained on before it becomes a recommender backbone (CALRec's stage 0 and
/// <c>calrec pretrain</c>): every catalogue item's text once, then every training window serialized as
/// <c>item₁ &lt;|item|&gt; item₂ &lt;|item|&gt; ...</c>. Histories come only from <see cref="TrainingSource.Train"/>,
/// the training part of a split, so no validation or test target of any user reaches the language model.
/// </summary>
public sealed class PretrainingCorpus
{
    private readonly List<IReadOnlyList<int>> _documents;
    private readonly List<HistoryExample> _histories;
    private readonly IReadOnlyList<TrainingSource>? _sources;

    internal PretrainingCorpus(IReadOnlyList<ItemTextTable> tables, IEnumerable<HistoryExample> windows, IReadOnlyList<TrainingSource>? sources = null)
    {
        _sources = sources;
        _documents = [];
        foreach (ItemTextTable table in tables)
        {
            for (int i = 0; i < table.Count; i++)
            {
                _documents.Add([.. table.Tokens(i), table.Separator]);
            }
        }

        ItemDocumentCount = _documents.Count;
        _histories = [.. windows];
        foreach (HistoryExample e in _histories)
        {
            var doc = new List<int>(e.Table.SerializedLength(e.Items));
            foreach (int item in e.Items)
            {
                doc.AddRange(e.Table.Tokens(item));
                doc.Add(e.Table.Separator);
            }

            _documents.Add(doc);
        }
    }

    /// <summary>
    /// The corpus of <paramref name="sources"/>: items rendered with <paramref name="template"/> (null: title and every
    /// attribute), each cut to <paramref name="maxItemTokens"/> tokens, and each training sequence cut into windows of up
    /// to <paramref name="maxHistory"/> + 1 items. <paramref name="tokenizer"/> must have <see cref="SpecialTokens.ItemSeparator"/>.
    /// </summary>
    public static PretrainingCorpus Create(IReadOnlyList<TrainingSource> sources, ByteLevelBpeTokenizer tokenizer, ItemTextTemplate? template = null,
        int maxHistory = 20, int maxItemTokens = 64)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxHistory);
        var tables = sources.Select(s => new ItemTextTable(s.Items, tokenizer, template, maxItemTokens)).ToList();
        var windows = sources.SelectMany((s, k) => TrainingWindows.Cut(tables[k], k, s.Train, maxHistory + 1, int.MaxValue));
        return new PretrainingCorpus(tables, windows, sources);
    }

    /// <summary>Token ids of every document: item documents first, then history documents.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Documents => _documents;

    /// <summary>How many of <see cref="Documents"/> are single items (the rest are serialized histories).</summary>
    public int ItemDocumentCount { get; }

    /// <summary>
    /// The history documents as (source name, user id, item ids), oldest item first, for auditing what the language
    /// model sees. Available on corpora built with <see cref="Create"/>.
    /// </summary>
    public IEnumerable<(string Source, string User, string[] Items)> Histories()
    {
        IReadOnlyList<TrainingSource> sources = _sources ?? throw new InvalidOperationException("This corpus was not built from named sources.");
        foreach (HistoryExample e in _histories)
        {
            TrainingSource s = sources[e.TableKey];
            yield return (s.Name, s.Users[e.User], e.Items.Select(i => s.Items[i].Id).ToArray());
        }
    }
}
