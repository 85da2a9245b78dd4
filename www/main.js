// The page's entry: the model picker feeds the screens, Classify, Photos and
// Draw, which sit under tabs.

import * as classify from "./classify.js";
import * as draw from "./game.js";
import { setUpModels } from "./models.js";
import * as photos from "./photos.js";
import { setUpTabs } from "./tabs.js";
import { $ } from "./ui.js";

setUpTabs($("screens"));
classify.setUpClassify();
photos.setUpPhotos();
setUpModels((model, source) => {
  classify.useModel(model, source);
  photos.useModel(model);
  draw.useModel(model, source);
});
