using CalRec.Data;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Item text templates, tokenizers and text encoders of a <see cref="RecContext"/>.</summary>
internal sealed class RecTextCatalog
{
    internal RecTextCatalog()
    {
    }

    /// <summary>The text of <paramref name="item"/> under <paramref name="template"/> (null: the title followed by every attribute).</summary>
    public string Serialize(CatalogItem item, ItemTextTemplate? template = null) => ItemTextTable.Render(item, template);

    /// <summary>
    /// Trains a byte-level BPE tokenizer on the texts of <paramref name="items"/>, with the special tokens CALRec uses
    /// (<c>&lt;|endoftext|&gt;</c>, <c>&lt;|item|&gt;</c>, <c>&lt;|pad|&gt;</c>).
    /// </summary>
    public ByteLevelBpeTokenizer TrainTokenizer(IEnumerable<CatalogItem> items, int vocabularySize = 4096, ItemTextTemplate? template = null) =>
        ByteLevelBpeTokenizer.Train(items.Select(i => Serialize(i, template)), new BpeTrainerOptions
        {
            VocabularySize = vocabularySize,
            SpecialTokens = [.. Text.Tokenization.SpecialTokens.All],
        });

    /// <summary>A text encoder over a decoder's final hidden states (for LLMSeqSim, LLM2SASRec and grounding).</summary>
    public ITextEncoder Encoder(DecoderLM model, ByteLevelBpeTokenizer tokenizer, Pooling pooling = Pooling.Mean, bool normalize = true) =>
        new LanguageModelEmbedder(model, tokenizer, pooling, normalize);
}
