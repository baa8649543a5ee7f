using System.CommandLine;
using System.Text.Json;
using CalRec.Text.Tokenization;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec tokenizer train|encode</c>.</summary>
internal static class TokenizerCommands
{
    public static Command Create()
    {
        var cmd = new Command("tokenizer", "Train a byte-level BPE tokenizer or encode text with one.");
        cmd.Subcommands.Add(Train());
        cmd.Subcommands.Add(Encode());
        return cmd;
    }

    private static Command Train()
    {
        var corpus = new Option<FileInfo[]>("--corpus") { Description = "Text files, one document per line.", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocab = new Option<int>("--vocab-size") { Description = "Vocabulary size (special + 256 bytes + merges).", DefaultValueFactory = _ => 8192 };
        var minFreq = new Option<int>("--min-frequency") { Description = "Pairs seen fewer times are not merged.", DefaultValueFactory = _ => 2 };
        var special = new Option<string[]>("--special") { Description = "Special tokens.", DefaultValueFactory = _ => [.. SpecialTokens.All], AllowMultipleArgumentsPerToken = true };
        var output = new Option<FileInfo>("--out") { Description = "Where to write tokenizer.json.", Required = true };
        var cmd = new Command("train", "Learn a BPE vocabulary from text files and write a Hugging Face tokenizer.json.") { corpus, vocab, minFreq, special, output };
        CommandRunner.SetAction(cmd, (parse, _) =>
        {
            FileInfo[] files = parse.GetValue(corpus)!;
            foreach (FileInfo f in files)
            {
                if (!f.Exists)
                {
                    throw new FileNotFoundException($"corpus file {f.FullName} does not exist.", f.FullName);
                }
            }

            ByteLevelBpeTokenizer? tok = null;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask task = ctx.AddTask("learning merges");
                    tok = ByteLevelBpeTokenizer.Train(files.SelectMany(f => File.ReadLines(f.FullName)), new BpeTrainerOptions
                    {
                        VocabularySize = parse.GetValue(vocab),
                        MinFrequency = parse.GetValue(minFreq),
                        SpecialTokens = parse.GetValue(special)!,
                        Progress = (done, wanted) => task.Value = 100.0 * done / wanted,
                    });
                    task.Value = 100;
                });
            FileInfo outFile = parse.GetValue(output)!;
            outFile.Directory?.Create();
            tok!.Save(outFile.FullName);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{outFile.FullName}[/]: {tok.VocabularySize} ids, {tok.Merges.Count} merges");
            return 0;
        });
        return cmd;
    }

    private static Command Encode()
    {
        var path = new Option<FileInfo>("--tokenizer") { Description = "tokenizer.json file.", Required = true };
        var text = new Option<string>("--text") { Description = "Text to encode.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"ids\": [...], \"tokens\": [...]} as JSON." };
        var cmd = new Command("encode", "Encode text and show ids and tokens.") { path, text, json };
        CommandRunner.SetAction(cmd, (parse, _) =>
        {
            ByteLevelBpeTokenizer tok = ByteLevelBpeTokenizer.FromFile(parse.GetValue(path)!.FullName);

            IReadOnlyList<int> ids = tok.EncodeToIds(parse.GetValue(text)!);
            string[] pieces = ids.Select(id => tok.Decode([id])).ToArray();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { ids, tokens = pieces }));
                return 0;
            }

            var table = new Table().AddColumn("position").AddColumn("id").AddColumn("text");
            for (int i = 0; i < ids.Count; i++)
            {
                table.AddRow(i.ToString(System.Globalization.CultureInfo.InvariantCulture), ids[i].ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(pieces[i].Replace("\n", "\\n", StringComparison.Ordinal)));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{ids.Count} tokens");
            return 0;
        });
        return cmd;
    }
}
