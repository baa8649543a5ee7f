using System.CommandLine;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Text.Tokenization;

namespace CalRec.Cli.Options;

/// <summary>The language model whose item-text embeddings LLMSeqSim and LLM2SASRec use: <c>--lm</c> and <c>--pooling</c>.</summary>
internal sealed class LanguageModelArguments
{
    public Option<DirectoryInfo?> Folder { get; } = new("--lm")
    {
        Description = "Language-model folder in Hugging Face layout (for example DIR/model after 'calrec pretrain --out DIR'); required.",
    };

    public Option<string> Pooling { get; } = new("--pooling") { Description = "Pooling of the text embeddings: mean or last.", DefaultValueFactory = _ => "mean" };

    public void AddTo(Command command)
    {
        command.Options.Add(Folder);
        command.Options.Add(Pooling);
    }

    /// <summary>The text encoder over the given language model.</summary>
    public LanguageModelEmbedder Encoder(ParseResult p)
    {
        string folder = p.GetValue(Folder)?.FullName
            ?? throw new ArgumentException($"calrec train {p.CommandResult.Command.Name} needs --lm: a language-model folder (for example from 'calrec pretrain --out DIR', then DIR/model).");
        (DecoderLM lm, ByteLevelBpeTokenizer tok) = HuggingFaceCheckpoint.LoadWithTokenizer(folder);
        Models.Embeddings.Pooling mode = p.GetValue(Pooling)!.ToLowerInvariant() switch
        {
            "mean" => Models.Embeddings.Pooling.Mean,
            "last" or "last-token" => Models.Embeddings.Pooling.LastToken,
            string other => throw new ArgumentException($"--pooling: '{other}' is not mean or last."),
        };
        return new LanguageModelEmbedder(lm, tok, mode);
    }
}
