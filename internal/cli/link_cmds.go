package cli

func addLinkCommands(app *App, p Parents) {}
