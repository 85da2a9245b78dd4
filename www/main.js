// The page's entry: the model picker feeds both screens, Classify and Draw,
// which sit under tabs.

import * as classify from "./classify.js";
import * as draw from "./game.js";
import { setUpModels } from "./models.js";
import { setUpTabs } from "./tabs.js";
import { $ } from "./ui.js";

setUpTabs($("screens"));
classify.setUpClassify();
setUpModels((model, source) => {
  classify.useModel(model);
  draw.useModel(model, source);
});
