using Kommune.Engine.Cli;

return await KommuneCommandLine.InvokeAsync(args);
