using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Data;
using CalRec.Data.Core;
using CalRec.Data.Preprocessing;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec data stats</c>.</summary>
internal static class DataCommands
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo[]>("--data") { Description = "Dataset folders in the normalized layout.", Required = true, AllowMultipleArgumentsPerToken = true };
        var kcore = new Option<int>("--k-core") { Description = "Apply iterative k-core filtering first (0: off)." };
        var skip = new Option<bool>("--skip-bad") { Description = "Skip unknown item ids and empty histories (with a warning) instead of failing." };
        var json = new Option<bool>("--json") { Description = "One JSON object per dataset." };
        var stats = new Command("stats", "Users, items, interactions, density and history-length percentiles.") { data, kcore, skip, json };
        stats.SetAction(p =>
        {
            var table = new Table().AddColumns("dataset", "users", "items", "interactions", "density", "length p5/p25/p50/p75/p95/max", "unused items");
            foreach (DirectoryInfo dir in p.GetValue(data)!)
            {
                InteractionDataset d;
                try
                {
                    d = InteractionDataset.Load(dir.FullName, p.GetValue(skip) ? BadRecordPolicy.Skip : BadRecordPolicy.Fail);
                }
                catch (Exception ex) when (ex is DataFormatException or FileNotFoundException or DirectoryNotFoundException)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                    return 2;
                }

                foreach (string w in d.Warnings)
                {
                    AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
                }

                if (p.GetValue(kcore) > 1)
                {
                    d = Preprocessor.Apply(d, new PreprocessingOptions { KCore = p.GetValue(kcore) });
                }

                DatasetStatistics s = DatasetStatistics.Of(d);
                if (p.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        dataset = d.Name, users = s.Users, items = s.Items, interactions = s.Interactions, density = s.Density,
                        length_percentiles = DatasetStatistics.Levels.Zip(s.LengthPercentiles).ToDictionary(x => $"p{x.First}", x => x.Second),
                        unused_items = s.ItemsWithoutInteractions,
                    }));
                    continue;
                }

                table.AddRow(Markup.Escape(d.Name), s.Users.ToString("N0", CultureInfo.InvariantCulture), s.Items.ToString("N0", CultureInfo.InvariantCulture),
                    s.Interactions.ToString("N0", CultureInfo.InvariantCulture), s.Density.ToString("P3", CultureInfo.InvariantCulture),
                    string.Join("/", s.LengthPercentiles), s.ItemsWithoutInteractions.ToString(CultureInfo.InvariantCulture));
            }

            if (!p.GetValue(json))
            {
                AnsiConsole.Write(table);
            }

            return 0;
        });
        var cmd = new Command("data", "Inspect datasets.");
        cmd.Subcommands.Add(stats);
        return cmd;
    }
}
