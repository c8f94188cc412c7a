using System.CommandLine;
using Tally.Cli;
using Tally.Cli.Commands;

var root = new RootCommand("Tally: usage statistics you can trust. Events in over HTTP; COUNTER-style numbers out.")
{
    CommonOptions.Data,
    CommonOptions.Config,
    CommonOptions.Store,
    ServeCommand.Create(),
    StorageCommands.Setup(),
    StorageCommands.Check(),
    StorageCommands.Types(),
    StorageCommands.Retention(),
    AggregateCommand.Create(),
    QueryCommand.Create(),
    ReportCommand.Create(),
    ExportCommand.Create(),
    ImportCommand.Create(),
    MigrateCommand.Create(),
    PublishCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
};
return await CommandLineChecks.RunAsync(root, args);
